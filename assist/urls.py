"""/assist/… JSON endpoints of the desk panels (docs/TICKETS.md "Knowledge at hand")."""

from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from assist import views

app_name = "assist"

urlpatterns = [
    path("articles/", views.articles, name="articles"),
    path("tickets/<id:pk>/similar/", views.similar, name="similar"),
    path("same-problem/", views.same_problem, name="same_problem"),
]
