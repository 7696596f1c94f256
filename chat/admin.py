"""Admin for conversations, with their messages inline (read-only transcript).

Read-only: accepting, transferring, closing and resolving a chat go through chat.services from
the chat pages, which enforce who may do each (docs/SECURITY.md "Admin")."""

from django.contrib import admin

from accounts.admin_permissions import ReadOnlyAdminMixin, SupervisorWritesMixin
from chat.models import AgentAvailability, Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "kind", "author", "body", "client_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "topic", "franchise", "franchisee", "agent", "status", "created_at", "last_activity_at")
    list_filter = ("status", "resolved_in_chat", "franchise")
    search_fields = ("topic", "franchisee__username", "agent__username")
    list_select_related = ("franchise", "franchisee", "agent")
    raw_id_fields = ("franchisee", "agent", "closed_by", "ticket")
    readonly_fields = ("created_at", "accepted_at", "closed_at", "last_activity_at")
    date_hierarchy = "created_at"
    inlines = [MessageInline]


@admin.register(AgentAvailability)
class AgentAvailabilityAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    """Supervisors set each agent's chat capacity; the status is the agent's own (/agent/)."""

    list_display = ("agent", "status", "chat_capacity", "changed_at")
    list_filter = ("status",)
    list_select_related = ("agent",)
    search_fields = ("agent__username", "agent__first_name", "agent__last_name")
    raw_id_fields = ("agent",)
    readonly_fields = ("status", "changed_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "agent") if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        """Through the service: a larger capacity routes waiting chats at once."""
        from chat.dispatch import set_capacity

        set_capacity(actor=request.user, agent=obj.agent, capacity=obj.chat_capacity)
