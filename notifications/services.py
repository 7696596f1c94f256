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
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from accounts.access import can_see_franchise, is_agent
from notifications.kinds import KINDS
from notifications.models import Notification, NotificationPreference
from notifications.push import group_send_many
from notifications.selectors import channels_for, channels_for_many, notification_frame, unread_count, unread_counts
from support_portal.links import safe_link
from support_portal.stored_text import StoredText, is_stored, language_of, render

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
    "push_to_groups",
    "safe_link",
    "save_preferences",
    "unread_count",
    "user_group",
]

logger = logging.getLogger(__name__)

AGENTS_GROUP = "notifications.agents"


def user_group(user_id: int) -> str:
    """Channel-layer group of one user's notification sockets."""
    return f"notifications.user.{user_id}"


def push_to_group(group: str, frame: dict) -> bool:
    """Send a frame to a group's sockets; log and return False if the layer is down."""
    return push_to_groups([(group, frame)])


def push_to_groups(frames: list[tuple[str, dict]]) -> bool:
    """Send each (group, frame) pair in one batch; log and return False if the layer is down."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        group_send_many(layer, [(group, {"type": "push.frame", "frame": frame}) for group, frame in frames])
    except Exception:
        logger.exception("channel layer push of %s frame(s) failed; the client will catch up on reconnect", len(frames))
        return False
    return True


def _deliver(notifications: list[Notification], emailed: set[int]) -> None:
    """After commit: push each unread notification's frame and enqueue the e-mails.

    One query gives every recipient's unread count, whatever the number of recipients.
    """
    shown = [n for n in notifications if n.read_at is None]
    if shown:
        try:
            counts = unread_counts({n.recipient_id for n in shown})
            frames = [
                (
                    user_group(n.recipient_id),
                    notification_frame(n, counts.get(n.recipient_id, 1), language_of(n.recipient)),
                )
                for n in shown
            ]
        except Exception:
            logger.exception("could not build the frames of %s notifications", len(shown))
        else:
            push_to_groups(frames)
    if not emailed:
        return
    from notifications.tasks import send_notification_email

    for notification in notifications:
        if notification.pk not in emailed:
            continue
        try:
            send_notification_email.delay(notification.pk)
        except Exception:
            logger.exception("could not enqueue e-mail for notification %s", notification.pk)


def _stored_and_text(value: StoredText | str) -> tuple[StoredText, str]:
    """(stored text or {}, its portal-language rendering kept in the plain column)."""
    if is_stored(value):
        return value, render(value, settings.LANGUAGE_CODE)
    return {}, str(value or "")


def _may_receive(recipient: User, *, actor: User | None, internal: bool, franchise_id: int | None) -> bool:
    if actor is not None and actor.pk == recipient.pk:
        return False
    if internal and not is_agent(recipient):
        return False
    if franchise_id is not None and not can_see_franchise(recipient, franchise_id):
        return False  # e.g. a franchisee moved to another franchise: its rows are no longer theirs
    return recipient.is_active


def notify_many(
    recipients: Iterable[User],
    *,
    kind: str,
    title: StoredText | str,
    body: StoredText | str = "",
    url: str = "",
    target: models.Model | None = None,
    actor: User | None = None,
    internal: bool = False,
) -> list[Notification]:
    """Store one notification per recipient and deliver them after the transaction commits.

    `title` and `body` are stored texts (support_portal.stored_text: each recipient reads them in
    their own language, on the page, the bell and by e-mail) or plain text shown as it is (a
    ticket subject, a chat message).

    Duplicates are skipped, and so is a recipient who is the actor, who is not support staff
    when the content is internal, who may not see the target's franchise, or who turned both
    channels off. A constant number of queries
    whatever the number of recipients: one for preferences, one INSERT, and after commit one
    for the unread counts.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    eligible: dict[int, User] = {}
    franchise_id = getattr(target, "franchise_id", None)
    for recipient in recipients:
        if recipient.pk not in eligible and _may_receive(
            recipient, actor=actor, internal=internal, franchise_id=franchise_id
        ):
            eligible[recipient.pk] = recipient
    if not eligible:
        return []
    channels = channels_for_many(eligible.values(), kind)
    target_type = ContentType.objects.get_for_model(target) if target is not None else None
    now = timezone.now()
    title_text, title = _stored_and_text(title)
    body_text, body = _stored_and_text(body)
    rows, emailed_users = [], set()
    for user_id, recipient in eligible.items():
        in_app, email = channels[user_id]
        if not (in_app or email):
            continue
        if email and recipient.email:
            emailed_users.add(user_id)
        rows.append(
            Notification(
                recipient=recipient,
                actor=actor,
                kind=kind,
                title=title[:200],
                body=body[:2000],
                title_text=title_text,
                body_text=body_text,
                url=safe_link(url),
                target_type=target_type,
                target_id=str(target.pk) if target is not None else "",
                read_at=None if in_app else now,
            )
        )
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    emailed = {n.pk for n in created if n.recipient_id in emailed_users}
    transaction.on_commit(lambda: _deliver(created, emailed), robust=True)
    return created


def notify(*, recipient: User, **kwargs) -> Notification | None:
    """Store a notification for `recipient` and deliver it after the transaction commits.

    Returns None when nothing is sent (see notify_many for when).
    """
    sent = notify_many([recipient], **kwargs)
    return sent[0] if sent else None


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
