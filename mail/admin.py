from django.contrib import admin

from mail.models import InboundMessage


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """Read-only log of accepted e-mails (refused ones are in the logs: nothing is stored for them)."""

    list_display = ("received_at", "kind", "channel", "sender", "ticket", "message_id")
    list_filter = ("kind", "channel")
    search_fields = ("sender", "message_id")
    raw_id_fields = ("user", "ticket", "comment")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
