"""Per-key rate limits over the shared cache (Redis in scale-out, so across processes).

A sliding-window counter: the hits of the current fixed window plus those of the previous one
weighted by how much of it the sliding window still covers — "no more than N in any T
seconds" within a small error, with two atomic cache counters per key.

Rates are settings written `"N/SECONDS"` (`"10/600"`); an empty value or `"0"` turns a limit
off. Services call `enforce()` so every entry point (pages, API, e-mail) shares one limit;
views turn `RateLimited` into a 429 that keeps what the user typed.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)
# A cache outage (Redis down in scale-out) must not break the pages: the limits fail open.
CACHE_ERRORS = (OSError, ConnectionError, TimeoutError)
try:
    from redis.exceptions import RedisError

    CACHE_ERRORS = (*CACHE_ERRORS, RedisError)
except ImportError:  # pragma: no cover
    pass


class RateLimited(Exception):
    """Over the limit: `detail` is for the user, `retry_after` in whole seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        """`"10/600"` → Rate(10, 600); empty, `"0"` or `"off"` → None (no limit)."""
        text = (text or "").strip().lower()
        if text in ("", "0", "off"):
            return None
        limit, _, seconds = text.partition("/")
        rate = cls(int(limit), int(seconds or 1))
        if rate.limit < 1 or rate.seconds < 1:
            raise ValueError(f"bad rate {text!r}: write N/SECONDS with N, SECONDS >= 1")
        return rate


def _key(key: str, seconds: int, window: int) -> str:
    return f"throttle:{key}:{seconds}:{window}"


def _estimate(key: str, rate: Rate, now: float) -> tuple[float, int]:
    window, offset = divmod(now, rate.seconds)
    window = int(window)
    values = cache.get_many([_key(key, rate.seconds, window), _key(key, rate.seconds, window - 1)])
    current = values.get(_key(key, rate.seconds, window), 0)
    previous = values.get(_key(key, rate.seconds, window - 1), 0)
    return previous * (1 - offset / rate.seconds) + current, window


def is_over(key: str, rate: Rate | None, *, now: float | None = None) -> bool:
    """Would one more hit exceed the rate? (Counts nothing.)"""
    if rate is None:
        return False
    try:
        estimate, _ = _estimate(key, rate, time.time() if now is None else now)
    except CACHE_ERRORS:
        log.warning("rate limit %s not checked: the cache is unavailable", key, exc_info=True)
        return False
    return estimate + 1 > rate.limit


def record(key: str, rate: Rate | None, *, now: float | None = None) -> None:
    """Count one hit."""
    if rate is None:
        return
    now = time.time() if now is None else now
    name = _key(key, rate.seconds, int(now // rate.seconds))
    try:
        if not cache.add(name, 1, timeout=rate.seconds * 2 + 1):
            try:
                cache.incr(name)
            except ValueError:  # expired between add and incr
                cache.add(name, 1, timeout=rate.seconds * 2 + 1)
    except CACHE_ERRORS:
        log.warning("rate limit %s not counted: the cache is unavailable", key, exc_info=True)


def retry_after(rate: Rate, *, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return max(1, math.ceil(rate.seconds - now % rate.seconds))


def enforce(key: str, setting: str, detail: str) -> None:
    """Count one hit against the rate named by `setting`; raise RateLimited (counting nothing) when over."""
    rate = Rate.parse(getattr(settings, setting, ""))
    now = time.time()
    if is_over(key, rate, now=now):
        raise RateLimited(detail, retry_after(rate, now=now))
    record(key, rate, now=now)
