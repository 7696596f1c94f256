"""Admin views of tokens and webhooks: read and revoke/disable only (creation goes through the
pages and services, which check the URL against the SSRF guard and show a key only once)."""

from django.contrib import admin

from api.models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Deleting a row revokes the token."""

    list_display = ["name", "user", "token_key", "created", "last_used_at"]
    search_fields = ["name", "user__username", "token_key"]
    exclude = ["digest"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "events", "active", "created_by", "created_at"]
    list_filter = ["active"]
    fields = ["url", "description", "events", "active", "created_by", "created_at"]
    readonly_fields = ["url", "events", "created_by", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "response_code", "error", "duration_ms", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "event"]
    inlines = [WebhookAttemptInline]
