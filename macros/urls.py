from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from macros import views

app_name = "macros"

urlpatterns: list = [
    path("", views.macro_list, name="list"),
    path("new/", views.macro_new, name="new"),
    path("search/", views.macro_search, name="search"),
    path("<id:pk>/edit/", views.macro_edit, name="edit"),
    path("<id:pk>/delete/", views.macro_delete, name="delete"),
    path("<id:pk>/used/", views.macro_used, name="used"),
]
