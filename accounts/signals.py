"""Signal receivers: end sockets when a grant may end (accounts.socket_auth) and keep the list of
signed-in sessions (accounts.models.LoginSession) for the profile page."""

from __future__ import annotations

import ipaddress

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_migrate, post_save, pre_save
from django.dispatch import receiver

from accounts import socket_auth
from accounts.models import LoginSession, User


@receiver(pre_save, sender=User, dispatch_uid="sockauth-user-pre-save")
def _remember_change(sender, instance: User, update_fields=None, raw=False, **kwargs) -> None:
    instance._sockauth_changed = False
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not {f.removesuffix("_id") for f in update_fields} & {
        f.removesuffix("_id") for f in socket_auth.WATCHED_FIELDS
    }:
        return  # e.g. login's last_login update: nothing that authorises a socket
    before = User.objects.filter(pk=instance.pk).values(*socket_auth.WATCHED_FIELDS).first()
    if before is None:
        return
    instance._sockauth_changed = any(before[f] != getattr(instance, f) for f in socket_auth.WATCHED_FIELDS)


@receiver(post_save, sender=User, dispatch_uid="sockauth-user-post-save")
def _user_saved(sender, instance: User, created=False, **kwargs) -> None:
    if not created and getattr(instance, "_sockauth_changed", False):
        instance._sockauth_changed = False
        socket_auth.revoke(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="sockauth-user-deleted")
def _user_deleted(sender, instance: User, **kwargs) -> None:
    socket_auth.revoke(instance.pk)


@receiver(post_delete, sender=Session, dispatch_uid="sockauth-session-deleted")
def _session_deleted(sender, instance: Session, **kwargs) -> None:
    """Logout, "log out everywhere", clearsessions, the admin: the database session row is gone."""
    LoginSession.objects.filter(session_key=instance.session_key).delete()
    user_id = instance.get_decoded().get(SESSION_KEY)  # {} for an unreadable session
    if user_id:
        socket_auth.revoke(int(user_id))


@receiver(user_logged_out, dispatch_uid="sockauth-logged-out")
def _logged_out(sender, request, user, **kwargs) -> None:
    """Also for session engines without database rows (cache, signed cookies)."""
    if user is not None:
        socket_auth.revoke(user.pk)
        key = getattr(getattr(request, "session", None), "session_key", None)
        if key:
            LoginSession.objects.filter(session_key=key).delete()


@receiver(user_logged_in, dispatch_uid="sessions-logged-in")
def _logged_in(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    meta = getattr(request, "META", {})
    LoginSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "user_agent": (meta.get("HTTP_USER_AGENT") or "")[:300],
            "ip_address": _ip(meta.get("REMOTE_ADDR")),
        },
    )


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None


@receiver(post_migrate, dispatch_uid="accounts-support-group-permissions")
def sync_support_group_after_migrate(sender, using="default", **kwargs) -> None:
    """A migration may add models (and so permissions) to the support apps: the agents' group
    gets them (accounts.services.ensure_support_group sets them only when it makes the group)."""
    from django.contrib.auth.models import Group

    from accounts.services import SUPPORT_GROUP, sync_support_group_permissions

    group = Group.objects.using(using).filter(name=SUPPORT_GROUP).first()
    if group is not None:
        sync_support_group_permissions(group)
