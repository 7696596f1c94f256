"""Flood limit for chat messages: no more than N messages in any S seconds per user.

A sliding log: the times of the user's accepted messages in the last S seconds. With Redis (the
cache is `support_portal.cache.ResilientRedisCache`) the log is a sorted set and one Lua script
trims it, counts it and adds the new message in a single atomic round trip, on Redis' own clock,
so the limit holds across all the user's sockets and every Daphne process. Without Redis (the
embedded default), or while Redis is unreachable, the same log is kept in this process's memory.
Refused messages are not logged: a client that keeps sending gets exactly N through in any S
seconds. Settings CHAT_RATE_LIMIT_MESSAGES (20) and CHAT_RATE_LIMIT_SECONDS (10).
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from support_portal.cache import UNREACHABLE

# KEYS[1] = log; ARGV = limit, window (ms), now (ms, or "" for Redis' clock), member.
SLIDING_LOG = """
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""

# The same log, and the values of KEYS[2..] read in the same round trip (chat.hot_path: who is
# viewing the conversation). Returns {allowed (0/1), value of KEYS[2], …} (false for a missing key).
SLIDING_LOG_AND_READ = """
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
local result = {0}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  result[1] = 1
end
for i = 2, #KEYS do
  result[i] = redis.call('GET', KEYS[i])
end
return result
"""

_memory_lock = threading.Lock()
_script = None  # redis-py Script (its SHA is loaded once per server, re-sent if Redis forgot it)
_read_script = None


def limits() -> tuple[int, int]:
    return (
        getattr(settings, "CHAT_RATE_LIMIT_MESSAGES", 20),
        getattr(settings, "CHAT_RATE_LIMIT_SECONDS", 10),
    )


def _key(user_id: int) -> str:
    return cache.make_key(f"chat:flood:{user_id}")


def _redis_client():
    """The Redis client behind the cache, or None (locmem cache, or Redis currently down)."""
    client_of = getattr(cache, "redis_client", None)
    return client_of() if client_of else None


def _hit_redis(client, user_id: int, max_messages: int, seconds: int, now: float | None) -> bool:
    global _script
    if _script is None:
        _script = client.register_script(SLIDING_LOG)
    now_ms = "" if now is None else str(int(now * 1000))
    args = [max_messages, seconds * 1000, now_ms, uuid.uuid4().hex]
    return bool(_script(keys=[_key(user_id)], args=args, client=client))


def _hit_memory(user_id: int, max_messages: int, seconds: int, now: float | None) -> bool:
    """The same log in the local cache (locmem, or the resilient cache's memory fallback)."""
    now = time.time() if now is None else now
    key = f"chat:flood-local:{user_id}"
    with _memory_lock:
        log = [t for t in cache.get(key, []) if t > now - seconds]
        allowed = len(log) < max_messages
        if allowed:
            log.append(now)
        cache.set(key, log, seconds)
        return allowed


def hit(user_id: int, *, now: float | None = None) -> bool:
    """Count one message; False when it would be over the limit (the message must be refused).

    `now` (seconds) replaces the clock, for tests.
    """
    max_messages, seconds = limits()
    client = _redis_client()
    if client is not None:
        try:
            return _hit_redis(client, user_id, max_messages, seconds, now)
        except UNREACHABLE as error:  # Redis down: this process counts alone meanwhile
            cache.mark_down(error)
    return _hit_memory(user_id, max_messages, seconds, now)


def hit_and_read(user_id: int, keys: list[str]) -> tuple[bool, list]:
    """hit() and the cache values of `keys` (raw: ints as bytes, None when missing) in one
    Redis round trip; without Redis, hit() and cache.get_many()."""
    global _read_script
    max_messages, seconds = limits()
    client = _redis_client()
    if client is not None:
        try:
            if _read_script is None:
                _read_script = client.register_script(SLIDING_LOG_AND_READ)
            args = [max_messages, seconds * 1000, "", uuid.uuid4().hex]
            result = _read_script(keys=[_key(user_id), *(cache.make_key(k) for k in keys)], args=args, client=client)
            return bool(result[0]), [value or None for value in result[1:]]
        except UNREACHABLE as error:
            cache.mark_down(error)
    allowed = _hit_memory(user_id, max_messages, seconds, None)
    found = cache.get_many(keys) if keys else {}
    return allowed, [found.get(k) for k in keys]


def reset(user_id: int) -> None:
    """Forget a user's recent messages (tests, support tooling)."""
    cache.delete(f"chat:flood-local:{user_id}")
    client = _redis_client()
    if client is not None:
        try:
            client.delete(_key(user_id))
        except UNREACHABLE as error:  # Redis down: nothing to forget there
            cache.mark_down(error)
