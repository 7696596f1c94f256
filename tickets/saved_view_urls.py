"""/agent/views/… routes: the agent's saved views (tabs of /agent/)."""

from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from tickets import views

app_name = "saved_views"

urlpatterns = [
    path("", views.saved_view_list, name="list"),
    path("new/", views.saved_view_create, name="create"),
    path("<id:pk>/", views.saved_view_update, name="update"),
    path("<id:pk>/delete/", views.saved_view_delete, name="delete"),
    path("<id:pk>/move/", views.saved_view_move, name="move"),
]
