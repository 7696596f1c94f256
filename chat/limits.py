"""Flood limit for chat messages: per user, across all their sockets and processes (cache-based).

A sliding-window counter: the count of the current fixed window plus the previous window's
count weighted by how much of it still overlaps the sliding window. Settings
CHAT_RATE_LIMIT_MESSAGES (20) and CHAT_RATE_LIMIT_SECONDS (10) override the defaults.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


def limits() -> tuple[int, int]:
    return (
        getattr(settings, "CHAT_RATE_LIMIT_MESSAGES", 20),
        getattr(settings, "CHAT_RATE_LIMIT_SECONDS", 10),
    )


def _key(user_id: int, window: int) -> str:
    return f"chat:rate:{user_id}:{window}"


def hit(user_id: int, *, now: float | None = None) -> bool:
    """Count one message; False when the user is over the limit (the message must be refused).

    A refused message still counts, so a client hammering the socket stays refused.
    """
    max_messages, seconds = limits()
    now = time.time() if now is None else now
    window = int(now // seconds)
    key = _key(user_id, window)
    try:
        current = cache.incr(key)
    except ValueError:  # first message of this window (or another socket just created it)
        current = 1 if cache.add(key, 1, seconds * 2 + 1) else cache.incr(key)
    previous = cache.get(_key(user_id, window - 1)) or 0
    overlap = 1 - (now - window * seconds) / seconds
    return previous * overlap + current <= max_messages


def reset(user_id: int) -> None:
    """Forget a user's recent messages (tests, support tooling)."""
    _, seconds = limits()
    window = int(time.time() // seconds)
    cache.delete_many([_key(user_id, window), _key(user_id, window - 1)])
