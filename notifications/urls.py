from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("latest/", views.latest, name="latest"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("<id:pk>/read/", views.mark_read, name="mark_read"),
    path("preferences/", views.preferences, name="preferences"),
]
