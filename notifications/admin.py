from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_permissions import ReadOnlyAdminMixin, SupervisorWritesMixin
from notifications.models import Notification, NotificationPreference
from notifications.services import mark_queryset_read


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Notifications come from notify() only; the admin lists them and marks them read."""

    list_display = ("title", "recipient", "kind", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "body", "recipient__username", "recipient__email")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient", "actor")
    readonly_fields = ("created_at", "target_type", "target_id")
    date_hierarchy = "created_at"
    actions = ["mark_as_read"]

    @admin.action(description=_("Marcar como leídas"))
    def mark_as_read(self, request, queryset) -> None:
        updated = mark_queryset_read(queryset)
        self.message_user(request, _("%(count)d notificaciones marcadas como leídas.") % {"count": updated})


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("user", "kind", "in_app", "email")
    list_filter = ("kind", "in_app", "email")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
