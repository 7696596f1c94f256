"""Writes for accounts: users with a role, franchises, the support staff group."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.models import Franchise, User

SUPPORT_GROUP = "Soporte"
SUPPORT_APPS = ("tickets", "knowledge_base", "chat", "notifications")


def ensure_support_group() -> Group:
    """The group that gives agents their admin permissions on the support apps."""
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=SUPPORT_APPS)
    view_accounts = Permission.objects.filter(content_type__app_label="accounts", codename__startswith="view_")
    group.permissions.set(list(perms) + list(view_accounts))
    return group


@transaction.atomic
def save_user(
    *,
    username: str,
    role: str,
    franchise: Franchise | None = None,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> tuple[User, bool]:
    """Create or update a user with a role; agents get admin access. Returns (user, created)."""
    user, created = User.objects.get_or_create(username=username, defaults={"role": role, "franchise": franchise})
    user.role = role
    user.franchise = franchise if role == User.Role.FRANCHISEE else None
    user.first_name, user.last_name, user.email = first_name, last_name, email
    if password is not None and (created or not user.check_password(password)):
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    apply_role(user)
    return user, created


def apply_role(user: User) -> None:
    """Admin access follows the role, wherever the role was set (this service, the admin):
    agents are staff in the support group, supervisors also superusers, franchisees neither."""
    staff = user.role in (User.Role.AGENT, User.Role.SUPERVISOR)
    superuser = user.role == User.Role.SUPERVISOR
    if (user.is_staff, user.is_superuser) != (staff, superuser):
        user.is_staff, user.is_superuser = staff, superuser
        user.save(update_fields=["is_staff", "is_superuser"])
    if staff:
        user.groups.add(ensure_support_group())
    else:
        user.groups.remove(*Group.objects.filter(name=SUPPORT_GROUP))


@transaction.atomic
def save_franchise(*, code: str, name: str, active: bool = True) -> tuple[Franchise, bool]:
    franchise, created = Franchise.objects.update_or_create(code=code, defaults={"name": name, "active": active})
    return franchise, created
