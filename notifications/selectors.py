"""Reads of notifications and preferences, always scoped to the asking user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.utils import translation

from accounts.access import is_agent
from notifications.kinds import KINDS
from notifications.models import Notification, NotificationPreference
from support_portal.links import safe_link

if TYPE_CHECKING:
    from accounts.models import User

LATEST_LIMIT_MAX = 50


def notifications_for(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first (only the columns the pages show)."""
    queryset = Notification.objects.filter(recipient=user).only(
        "id", "recipient_id", "kind", "title", "body", "title_text", "body_text", "url", "created_at", "read_at"
    )
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Unread count per user id, in one query (users with none are left out)."""
    rows = (
        Notification.objects.filter(recipient_id__in=list(user_ids), read_at__isnull=True)
        .values("recipient_id")
        .annotate(unread=Count("id"))
        .values_list("recipient_id", "unread")
    )
    return dict(rows)


def notification_frame(notification: Notification, unread: int, language: str | None = None) -> dict:
    """The `notification` frame of DESIGN.md's /ws/notifications/ protocol.

    Title and body in `language` (default: the active one; a push: the recipient's).
    """
    with translation.override(language) if language else contextlib.nullcontext():
        title, body = notification.shown_title, notification.shown_body
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "title": title,
        "body": body,
        "url": safe_link(notification.url),
        "created": notification.created_at.isoformat(),
        "unread": unread,
    }


def catch_up(user: User, limit: int = 10) -> dict:
    """What the bell needs after (re)connecting: the unread count and the latest notifications."""
    limit = max(1, min(limit, LATEST_LIMIT_MAX))
    unread = unread_count(user)
    results = []
    for notification in notifications_for(user)[:limit]:
        frame = notification_frame(notification, unread)
        frame["read"] = notification.is_read
        results.append(frame)
    return {"unread": unread, "results": results}


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    in_app: bool
    email: bool


def preferences_for(user: User) -> list[PreferenceRow]:
    """Every kind the user can receive, with their stored choice, else the kind's default."""
    stored = {pref.kind: pref for pref in NotificationPreference.objects.filter(user=user)}
    staff = is_agent(user)
    rows = []
    for code, kind in KINDS.items():
        if kind.staff_only and not staff:
            continue
        pref = stored.get(code)
        rows.append(
            PreferenceRow(
                kind=code,
                label=str(kind.label),
                in_app=pref.in_app if pref else True,
                email=pref.email if pref else kind.email_by_default,
            )
        )
    return rows


def channels_for(user: User, kind: str) -> tuple[bool, bool]:
    """(in_app, email) for this user and kind: their preference, else the kind's default."""
    pref = NotificationPreference.objects.filter(user=user, kind=kind).only("in_app", "email").first()
    if pref is not None:
        return pref.in_app, pref.email
    return True, KINDS[kind].email_by_default


def channels_for_many(users: Iterable[User], kind: str) -> dict[int, tuple[bool, bool]]:
    """channels_for() of many users in one query: {user id: (in_app, email)}."""
    ids = [user.pk for user in users]
    default = (True, KINDS[kind].email_by_default)
    channels = dict.fromkeys(ids, default)
    stored = NotificationPreference.objects.filter(user_id__in=ids, kind=kind).values_list("user_id", "in_app", "email")
    for user_id, in_app, email in stored:
        channels[user_id] = (in_app, email)
    return channels
