from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import Franchise, User


@admin.register(Franchise)
class FranchiseAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "code")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "get_full_name", "email", "role", "franchise", "is_active", "last_login")
    list_filter = ("role", "franchise", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    list_select_related = ("franchise",)
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Soporte"), {"fields": ("role", "franchise", "preferred_language")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, (_("Soporte"), {"fields": ("role", "franchise")}))
