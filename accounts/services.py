"""Writes for accounts: users with a role, franchises, the support staff group."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.models import Franchise, User

SUPPORT_GROUP = "Soporte"
SUPPORT_APPS = ("tickets", "knowledge_base", "chat", "notifications", "macros")


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


@transaction.atomic
def end_other_sessions(*, user: User, keep=None) -> int:
    """ "Log out everywhere else": every session of `user` stops authenticating except `keep`
    (the caller's session store), and their sockets close with 4401. Returns how many listed
    sessions were ended.

    Raising `session_epoch` changes the session auth hash, so even sessions that are not listed
    (made before the list existed, or by another engine) end; `keep` gets the new hash in the
    same transaction, so its own sockets never see a moment where it does not hold.
    """
    from django.contrib.auth import HASH_SESSION_KEY

    from accounts.models import LoginSession

    locked = User.objects.select_for_update().get(pk=user.pk)
    locked.session_epoch += 1
    locked.save(update_fields=["session_epoch"])  # accounts.signals → socket_auth.revoke
    user.session_epoch = locked.session_epoch
    keep_key = getattr(keep, "session_key", None)
    if keep is not None:
        keep[HASH_SESSION_KEY] = locked.get_session_auth_hash()
        keep.save()
    ended = 0
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for row in LoginSession.objects.filter(user=locked).exclude(session_key=keep_key or ""):
        store_class(session_key=row.session_key).delete()
        row.delete()
        ended += 1
    return ended
