"""Reads of account data, scoped to the asking user."""

from __future__ import annotations

from accounts.models import Franchise, LoginSession, User
from accounts.socket_auth import session_holds


def active_sessions(user: User, current_key: str | None) -> list[dict]:
    """The user's own signed-in sessions that still authenticate, newest first."""
    return [
        {"session": row, "current": row.session_key == current_key}
        for row in LoginSession.objects.filter(user=user)
        if session_holds(row.session_key, user)
    ]


def franchises_by_name() -> list[Franchise]:
    """Every franchise, inactive ones too (their history still counts), by name."""
    return list(Franchise.objects.order_by("name"))


def recent_account_events(user: User, limit: int = 10) -> list:
    """The latest entries of the user's own account trail (accounts.models.AccountEvent)."""
    from accounts.models import AccountEvent

    return list(AccountEvent.objects.filter(user=user)[:limit])
