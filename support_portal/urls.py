from django.contrib import admin
from django.urls import include, path

from accounts.locale_views import set_language
from accounts.views import home
from chat.views import availability as agent_availability
from support_portal.health import healthz
from tickets.views import agent_dashboard

admin.site.site_header = "Portal de soporte"
admin.site.site_title = "Portal de soporte"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("agent/", agent_dashboard, name="agent_dashboard"),
    path("agent/macros/", include("macros.urls")),
    path("agent/views/", include("tickets.saved_view_urls")),
    path("agent/availability/", agent_availability, name="agent_availability"),
    path("agent/reports/", include("tickets.report_urls")),
    path("tickets/", include("tickets.urls")),
    path("kb/", include("knowledge_base.urls")),
    path("chat/", include("chat.urls")),
    path("assist/", include("assist.urls")),
    path("notifications/", include("notifications.urls")),
    path("i18n/setlang/", set_language, name="set_language"),  # also saves a user's preferred_language
    path("api/", include("api.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
