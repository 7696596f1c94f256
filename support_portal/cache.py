"""The Django cache on Redis, degrading to this process's memory while Redis is unreachable.

The cache holds only short-lived counters (rate limits, presence): losing them during an
outage is better than failing the request. On a Redis connection or timeout error every
operation is served from a per-process LocMemCache, and Redis is not asked again for
`RETRY_AFTER` seconds (so a dead Redis costs one failed connect every few seconds, not one
per call). Other errors (bad data, programming errors) still raise.

Settings: `CACHES["default"]["BACKEND"] = "support_portal.cache.ResilientRedisCache"`; the
OPTIONS (socket timeouts, one retry on a fresh connection) are in settings.py.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER = 2.0  # seconds during which a failed Redis is not asked again
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._fallback = LocMemCache(f"resilient-fallback-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def redis_available(self) -> bool:
        """False while this process is serving from memory after a Redis failure."""
        return time.monotonic() >= self._down_until

    def redis_client(self):
        """The redis-py client for writes (None while Redis is considered down)."""
        if not self.redis_available:
            return None
        return self._cache.get_client(write=True)

    def mark_down(self, error: BaseException) -> None:
        with self._lock:
            was_up = self.redis_available
            self._down_until = time.monotonic() + RETRY_AFTER
        if was_up:
            logger.warning("Redis cache unreachable (%s): using per-process memory", type(error).__name__)

    def _call(self, name: str, *args, **kwargs):
        if self.redis_available:
            try:
                return getattr(super(), name)(*args, **kwargs)
            except UNREACHABLE as error:
                self.mark_down(error)
        return getattr(self._fallback, name)(*args, **kwargs)

    def add(self, key, value, timeout=None, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=None, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=None, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def decr(self, key, delta=1, version=None):
        return self._call("decr", key, delta, version)

    def set_many(self, data, timeout=None, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        self._fallback.clear()
        return self._call("clear")
