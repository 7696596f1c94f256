"""Writes for accounts: users with a role, franchises, the support staff group, and the user's
own account (profile, password, sessions), each self-service change with an AccountEvent."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import AccountEvent, Franchise, User

SUPPORT_GROUP = "Soporte"
SUPPORT_APPS = ("tickets", "knowledge_base", "chat", "notifications", "macros")


def ensure_support_group() -> Group:
    """The group that gives agents their admin permissions on the support apps.

    Its permissions are set when it is made and after every `migrate` (a new model's permissions
    exist only then: accounts.signals.sync_support_group_after_migrate), not on every agent save."""
    group, created = Group.objects.get_or_create(name=SUPPORT_GROUP)
    if created:
        sync_support_group_permissions(group)
    return group


def sync_support_group_permissions(group: Group) -> None:
    """The support apps' model permissions plus viewing the accounts app."""
    perms = Permission.objects.filter(content_type__app_label__in=SUPPORT_APPS)
    view_accounts = Permission.objects.filter(content_type__app_label="accounts", codename__startswith="view_")
    group.permissions.set(list(perms) + list(view_accounts))


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
def end_other_sessions(*, user: User, keep=None, ip: str | None = None) -> int:
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
    kind = AccountEvent.Kind.SESSIONS_ENDED if keep is not None else AccountEvent.Kind.ALL_SESSIONS_ENDED
    record_event(user=locked, kind=kind, ip=ip, ended=ended)
    return ended


# --- the user's own account ------------------------------------------------------------------------


def record_event(*, user: User, kind: str, ip: str | None = None, **data) -> AccountEvent:
    """Append to the account's audit trail (`data`: parameters, never secrets)."""
    return AccountEvent.objects.create(user=user, kind=kind, ip_address=ip or None, data=data)


def mask_email(address: str) -> str:
    """`carmen@example.com` → `c•••••@example.com` (the audit trail names an address without
    spelling it out)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'•' * max(len(local) - 1, 1)}@{domain}" if domain else ""


def email_taken(email: str, *, exclude: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return bool(email) and users.exists()


@transaction.atomic
def update_profile(*, user: User, first_name: str, last_name: str, email: str, ip: str | None = None) -> list[str]:
    """The user edits their name and e-mail address (unique, case-insensitive). Returns the
    changed field names. A new address is recorded and the old one told (after commit), so a
    stolen session cannot quietly take over the account's password resets."""
    email = User.objects.normalize_email(email.strip())
    if email_taken(email, exclude=user):
        raise ValidationError({"email": _("Ya hay otra cuenta con este correo electrónico.")})
    locked = User.objects.select_for_update().get(pk=user.pk)
    old_email = locked.email
    values = {"first_name": first_name.strip(), "last_name": last_name.strip(), "email": email}
    changed = [name for name, value in values.items() if getattr(locked, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(locked, name, values[name])
        setattr(user, name, values[name])
    locked.full_clean(exclude=["password"])
    locked.save(update_fields=changed)
    names = [name for name in changed if name != "email"]
    if names:
        record_event(user=locked, kind=AccountEvent.Kind.PROFILE_UPDATED, ip=ip, fields=names)
    if "email" in changed:
        record_event(
            user=locked, kind=AccountEvent.Kind.EMAIL_CHANGED, ip=ip, old=mask_email(old_email), new=mask_email(email)
        )
        if old_email:
            from accounts import tasks

            transaction.on_commit(lambda: tasks.send_security_notice.delay(locked.pk, "email_changed", old_email))
    return changed


@transaction.atomic
def change_password(*, user: User, password: str, ip: str | None = None, reset: bool = False) -> None:
    """A new password (from the change form, or from a reset link when `reset`): the user's
    other sessions stop authenticating (the session auth hash changes; their sockets close)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    kind = AccountEvent.Kind.PASSWORD_RESET if reset else AccountEvent.Kind.PASSWORD_CHANGED
    record_event(user=user, kind=kind, ip=ip)
    if user.email:
        from accounts import tasks

        notice = "password_reset" if reset else "password_changed"
        transaction.on_commit(lambda: tasks.send_security_notice.delay(user.pk, notice, user.email))


def request_password_reset(*, email: str, ip: str | None = None) -> None:
    """ "Forgot my password": the same work whatever the address (no user enumeration). The
    look-up, the token and the e-mail happen in a Celery task (accounts.tasks.send_password_reset),
    so the answer and its timing never depend on whether an account has this address."""
    from accounts import tasks

    transaction.on_commit(lambda: tasks.send_password_reset.delay(email, ip))


@transaction.atomic
def record_reset_link_sent(*, user: User, ip: str | None = None) -> None:
    record_event(user=user, kind=AccountEvent.Kind.PASSWORD_RESET_REQUESTED, ip=ip)


@transaction.atomic
def save_locale(*, user: User, language: str | None = None, time_zone: str | None = None) -> User:
    """Save the user's language and/or time zone ("" time zone: follow the franchise's).

    The language is what e-mails and pushed notifications are written in; the time zone is
    the one every time is shown in (support_portal.times). Unknown values are refused.
    """
    from support_portal.times import valid_zone

    fields = []
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise ValueError(f"unknown language {language!r}")
        user.preferred_language = language
        fields.append("preferred_language")
    if time_zone is not None:
        if time_zone and not valid_zone(time_zone):
            raise ValueError(f"unknown time zone {time_zone!r}")
        user.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        User.objects.filter(pk=user.pk).update(**{field: getattr(user, field) for field in fields})
    return user
