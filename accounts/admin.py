from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.admin_permissions import ReadOnlyAdminMixin, SupervisorWritesMixin
from accounts.models import AccountEvent, Franchise, User
from accounts.services import apply_role


@admin.register(Franchise)
class FranchiseAdmin(SupervisorWritesMixin, admin.ModelAdmin):
    list_display = ("name", "code", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "code")


@admin.register(User)
class UserAdmin(SupervisorWritesMixin, DjangoUserAdmin):
    """Admin access follows the role (accounts.services.apply_role), never a ticked box."""

    list_display = ("username", "get_full_name", "email", "role", "franchise", "is_active", "last_login")
    list_filter = ("role", "franchise", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    list_select_related = ("franchise",)
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Soporte"), {"fields": ("role", "franchise", "preferred_language")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, (_("Soporte"), {"fields": ("role", "franchise")}))
    readonly_fields = ("is_staff", "is_superuser", "groups", "user_permissions", "last_login", "date_joined")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        apply_role(obj)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        apply_role(form.instance)


@admin.register(AccountEvent)
class AccountEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The accounts' audit trail (accounts.services writes it); read-only."""

    list_display = ("created_at", "user", "kind", "ip_address")
    list_filter = ("kind",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "kind", "data", "ip_address", "created_at")
