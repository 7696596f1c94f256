"""The chat flood limit is a sliding window: no more than 20 messages in ANY 10 s (issue 11).

The old limiter (a fixed window plus a weighted previous window) let 34 messages through in
9 s across a window edge; these schedules find such bursts. Run on the embedded cache (locmem)
and on Redis (REDIS_URL: one Lua script, shared by every process), and on a Redis that is down
(the per-process fallback).
"""

from __future__ import annotations

import threading

import pytest
from django.test import override_settings

from chat import limits
from support_portal.cache import ResilientRedisCache
from tests.conftest import require_env
from tests.servers import free_port

LIMIT, SECONDS = 20, 10
T0 = 1_800_000_000.0  # an arbitrary epoch second, far from any real message


def accepted_times(user_id: int, times: list[float]) -> list[float]:
    return [t for t in times if limits.hit(user_id, now=t)]


def busiest_window(times: list[float]) -> int:
    """The most accepted messages inside any half-open window [t, t + SECONDS)."""
    return max((sum(1 for u in times if t <= u < t + SECONDS) for t in times), default=0)


def edge_burst() -> list[float]:
    """20 messages just before a 10 s boundary, then one attempt every 0.25 s for 12 s."""
    first = [T0 + 9.5 + i * 0.02 for i in range(20)]
    then = [T0 + 10 + i * 0.25 for i in range(48)]
    return first + then


def edge_then_pause() -> list[float]:
    """20 messages just before a boundary, a pause, then a burst in the next fixed window."""
    first = [T0 + 9.5 + i * 0.02 for i in range(20)]
    then = [T0 + 15 + i * 0.05 for i in range(20)] + [T0 + 18 + i * 0.05 for i in range(20)]
    return first + then


def steady(rate_per_s: float, duration: float) -> list[float]:
    return [T0 + i / rate_per_s for i in range(int(duration * rate_per_s))]


SCHEDULES = {
    "edge_burst": edge_burst(),
    "edge_then_pause": edge_then_pause(),
    "steady_5_per_s": steady(5, 35),
    "steady_2_5_per_s": steady(2.5, 30),
}


def check_schedules(first_user: int) -> None:
    for offset, (name, times) in enumerate(SCHEDULES.items()):
        got = accepted_times(first_user + offset, times)
        assert busiest_window(got) <= LIMIT, f"{name}: {busiest_window(got)} messages in one {SECONDS} s window"
        # ...and the limit is not stricter than promised: a full window's worth gets through.
        assert busiest_window(got) == LIMIT, name


def test_sliding_window_holds_in_any_window_locmem():
    check_schedules(9001)


def test_messages_get_through_again_once_the_oldest_leaves_the_window():
    user = 9101
    assert len(accepted_times(user, [T0 + i * 0.1 for i in range(20)])) == 20
    assert not limits.hit(user, now=T0 + 9.95)
    assert limits.hit(user, now=T0 + 10.01)  # the first (T0) left the window
    assert not limits.hit(user, now=T0 + 10.02)  # the second (T0 + 0.1) is still in it


def test_reset_forgets_the_log():
    user = 9201
    accepted_times(user, [T0] * 20)
    assert not limits.hit(user, now=T0 + 1)
    limits.reset(user)
    assert limits.hit(user, now=T0 + 1)


@pytest.mark.redis
def test_sliding_window_holds_on_redis():
    require_env("REDIS_URL")
    assert limits._redis_client() is not None, "REDIS_URL set but the cache is not Redis"
    for offset in range(len(SCHEDULES)):
        limits.reset(9301 + offset)
    check_schedules(9301)


@pytest.mark.redis
def test_concurrent_senders_on_redis_get_exactly_the_limit():
    """Many sockets/processes at once: the Lua script is atomic, so exactly 20 pass."""
    require_env("REDIS_URL")
    user = 9401
    limits.reset(user)
    results: list[bool] = []
    lock = threading.Lock()

    def sender() -> None:
        for _ in range(10):
            allowed = limits.hit(user)
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 60
    assert sum(results) == LIMIT


def test_redis_down_falls_back_to_this_process():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    config = {"default": {"BACKEND": "support_portal.cache.ResilientRedisCache", "LOCATION": dead}}
    with override_settings(CACHES=config):
        from django.core.cache import caches

        backend = caches["default"]
        assert isinstance(backend, ResilientRedisCache)
        got = accepted_times(9501, edge_then_pause())
        assert busiest_window(got) == LIMIT
        assert not backend.redis_available
