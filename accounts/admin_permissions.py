"""Role permissions for the Django admin, shared by every app's ModelAdmin.

Agents get the model permissions of the support apps (accounts.services.SUPPORT_GROUP); these
mixins narrow them by role, so that the admin allows no more than the pages do.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import is_supervisor


class SupervisorWritesMixin:
    """Agents may look; only supervisors add, change or delete (team-wide configuration)."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return is_supervisor(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_supervisor(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_supervisor(request.user) and super().has_delete_permission(request, obj)


class ReadOnlyAdminMixin:
    """Rows written only by their services (the pages, sockets, tasks): the admin shows them;
    a supervisor may delete one (e.g. personal data on request), nobody adds or edits."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_supervisor(request.user) and super().has_delete_permission(request, obj)
