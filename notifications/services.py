"""notify(): the one way every app tells a user something.

The notification row is written in the caller's transaction; the WebSocket push and the
e-mail are sent only after that transaction commits, so a rollback sends nothing. A channel
layer that is down never fails the caller: the row is stored, the failure is logged, and
the client catches up from the database when it reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from accounts.access import can_see_franchise, is_agent
from notifications.kinds import KINDS
from notifications.models import Notification, NotificationPreference
from notifications.push import group_send
from notifications.selectors import channels_for, notification_frame, unread_count

if TYPE_CHECKING:
    from accounts.models import User

__all__ = [
    "AGENTS_GROUP",
    "channels_for",
    "mark_all_read",
    "mark_queryset_read",
    "mark_read",
    "mark_read_for_target",
    "notification_frame",
    "notify",
    "notify_many",
    "push_to_agents",
    "push_to_group",
    "save_preferences",
    "unread_count",
    "user_group",
]

logger = logging.getLogger(__name__)

AGENTS_GROUP = "notifications.agents"


def user_group(user_id: int) -> str:
    """Channel-layer group of one user's notification sockets."""
    return f"notifications.user.{user_id}"


def safe_link(url: str) -> str:
    """Keep only site-relative links ("/tickets/4/"): nothing external, no `javascript:`."""
    url = (url or "").strip()
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return ""
    return url[:300]


def push_to_group(group: str, frame: dict) -> bool:
    """Send a frame to a group's sockets; log and return False if the layer is down."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        group_send(layer, group, {"type": "push.frame", "frame": frame})
    except Exception:
        logger.exception("channel layer push to %s failed; the client will catch up on reconnect", group)
        return False
    return True


def _deliver(notification: Notification, send_email: bool) -> None:
    """After commit: push the frame (if it is shown in the portal) and enqueue the e-mail."""
    recipient = notification.recipient
    if notification.read_at is None:
        try:
            frame = notification_frame(notification, unread_count(recipient))
        except Exception:
            logger.exception("could not build the frame of notification %s", notification.pk)
        else:
            push_to_group(user_group(recipient.pk), frame)
    if send_email and recipient.email:
        from notifications.tasks import send_notification_email

        try:
            send_notification_email.delay(notification.pk)
        except Exception:
            logger.exception("could not enqueue e-mail for notification %s", notification.pk)


def notify(
    *,
    recipient: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    target: models.Model | None = None,
    actor: User | None = None,
    internal: bool = False,
) -> Notification | None:
    """Store a notification for `recipient` and deliver it after the transaction commits.

    Returns None when nothing is sent: the recipient is the actor, the content is internal
    and the recipient is not support staff, the target belongs to a franchise the recipient may
    not see, or the recipient turned both channels off.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if actor is not None and actor.pk == recipient.pk:
        return None
    if internal and not is_agent(recipient):
        return None
    if not recipient.is_active:
        return None
    franchise_id = getattr(target, "franchise_id", None)
    if franchise_id is not None and not can_see_franchise(recipient, franchise_id):
        return None  # e.g. a franchisee moved to another franchise: its rows are no longer theirs
    in_app, email = channels_for(recipient, kind)
    if not (in_app or email):
        return None
    notification = Notification.objects.create(
        recipient=recipient,
        actor=actor,
        kind=kind,
        title=title[:200],
        body=body[:2000],
        url=safe_link(url),
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        read_at=None if in_app else timezone.now(),
    )
    transaction.on_commit(lambda: _deliver(notification, email), robust=True)
    return notification


def notify_many(recipients: Iterable[User], **kwargs) -> list[Notification]:
    """notify() each recipient once (duplicates and the actor are skipped)."""
    sent, seen = [], set()
    for recipient in recipients:
        if recipient.pk in seen:
            continue
        seen.add(recipient.pk)
        notification = notify(recipient=recipient, **kwargs)
        if notification is not None:
            sent.append(notification)
    return sent


def push_to_agents(frame: dict) -> None:
    """Send a frame (e.g. a chat `queue` update) to every connected agent, after commit."""
    transaction.on_commit(lambda: push_to_group(AGENTS_GROUP, frame), robust=True)


@transaction.atomic
def mark_read(user: User, notification_id: int) -> bool:
    """Mark one of the user's own notifications read; False if it is not theirs or already read."""
    unread = Notification.objects.filter(recipient=user, pk=notification_id, read_at__isnull=True)
    return bool(unread.update(read_at=timezone.now()))


@transaction.atomic
def mark_all_read(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def mark_read_for_target(user: User, target: models.Model) -> int:
    """Mark read the user's notifications about `target` (call it when they open that item)."""
    return Notification.objects.filter(
        recipient=user,
        read_at__isnull=True,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
    ).update(read_at=timezone.now())


@transaction.atomic
def mark_queryset_read(queryset: models.QuerySet[Notification]) -> int:
    """Admin action: mark the selected notifications read (whoever they belong to)."""
    return queryset.filter(read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def save_preferences(user: User, choices: dict[str, tuple[bool, bool]]) -> None:
    """Store (in_app, email) per kind; a choice equal to the kind's default keeps no row."""
    for kind, (in_app, email) in choices.items():
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        if in_app and email == KINDS[kind].email_by_default:
            NotificationPreference.objects.filter(user=user, kind=kind).delete()
        else:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": in_app, "email": email}
            )
