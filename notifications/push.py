"""Send to the channel layer from synchronous code (views, Celery tasks, commands).

`async_to_sync(layer.group_send)` outside an event loop builds a fresh loop — and, with
channels-redis, a fresh Redis connection — on every call (≈2.5 ms here) and has no timeout, so a
Redis that hangs would hang the caller's request. For the Redis layer this module keeps one
event loop per process in a daemon thread, reuses its connections (≈0.4 ms a send) and gives up
after `SEND_TIMEOUT` seconds. The in-memory layer (one process, tests) keeps `async_to_sync`, whose
queues belong to the server's own loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer

SEND_TIMEOUT = 2.0

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """This process's sender loop, started on first use (again in a forked child)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="channel-layer-sender", daemon=True).start()
        return _loop


SEND_CONCURRENCY = 16  # group_sends in flight at once on a layer without a batch path

# At most this many messages per EVALSHA, so one call never builds an unbounded argument list.
BATCH_CHUNK = 500

# One call per Redis host stores a batch of (channel key, message, capacity) triples, the same way
# channels-redis's own group_send does for one group (its Lua script, made per-triple here): drop
# messages older than the expiry, add unless the channel is at capacity, refresh the key's TTL.
# A channel's messages are a sorted set scored by time: each message of the batch is scored a
# microsecond after the one before, so one socket's frames keep the batch's order.
_BATCH_SEND_LUA = """
local now = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2])
local over_capacity = 0
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(now) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[2 + 2 * i]) then
        redis.call('ZADD', KEYS[i], now + i * 0.000001, ARGV[1 + 2 * i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


def _has_batch_path(layer: BaseChannelLayer) -> bool:
    """channels-redis's list-based RedisChannelLayer (not its pub/sub layer, not a custom one)."""
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return False
    return type(layer) is RedisChannelLayer


async def _redis_group_send_batch(layer, sends: list[tuple[str, dict]]) -> None:
    """Every (group, message) of `sends` in two round trips per Redis host, whatever their number.

    channels-redis's group_send takes four round trips and a script upload per group: 500
    recipients' frames cost ≈ 190 ms of CPU and waiting (docs/PERFORMANCE.md). Here one pipeline
    reads every group's members and one script call stores every message. The stored messages are
    what layer.group_send stores (the layer's serializer, `__asgi_channel__` naming the group's
    channels of each key), so the receiving side is channels-redis's own.
    """
    by_host: dict[int, list[tuple[str, dict]]] = {}
    for group, message in sends:
        assert layer.require_valid_group_name(group), "Group name not valid"
        by_host.setdefault(layer.consistent_hash(group), []).append((group, message))

    cutoff = int(time.time()) - layer.group_expiry
    triples: dict[int, list[tuple[str, bytes, int]]] = {}
    for index, host_sends in by_host.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group, _ in host_sends:
            key = layer._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=cutoff)
            pipe.zrange(key, 0, -1)
        replies = await pipe.execute()
        for (_, message), members in zip(host_sends, replies[1::2], strict=True):
            for channel_key, channels in _channels_by_key(layer, members).items():
                payload = layer.serialize({**message, "__asgi_channel__": channels})
                capacity = layer.get_capacity(channels[0])
                host = layer.consistent_hash(channel_key[len(layer.prefix) :])
                triples.setdefault(host, []).append((channel_key, payload, capacity))

    for index, host_triples in triples.items():
        script = _batch_script(layer, index)
        for start in range(0, len(host_triples), BATCH_CHUNK):
            chunk = host_triples[start : start + BATCH_CHUNK]
            args: list = [time.time(), int(layer.expiry)]
            for _, payload, capacity in chunk:
                args += [payload, capacity]
            over = await script(keys=[key for key, _, _ in chunk], args=args)
            if over:
                logger.info("%s of %s channel messages over capacity in a batch send", over, len(chunk))


def _channels_by_key(layer, members: list[bytes]) -> dict[str, list[str]]:
    """A group's channel names by Redis key: a Daphne process's sockets share one key."""
    keys: dict[str, list[str]] = {}
    for member in members:
        channel = member.decode("utf8")
        keys.setdefault(layer.prefix + layer.non_local_name(channel), []).append(channel)
    return keys


def _batch_script(layer, index: int):
    """The batch script registered on host `index`'s client (EVALSHA, uploaded once)."""
    scripts = layer.__dict__.setdefault("_portal_batch_scripts", {})
    connection = layer.connection(index)
    script = scripts.get(index)
    if script is None or script.registered_client is not connection:
        script = scripts[index] = connection.register_script(_BATCH_SEND_LUA)
    return script


async def group_send_async(layer: BaseChannelLayer, group: str, message: dict) -> None:
    """layer.group_send from async code (a consumer): the batch path on channels-redis (two
    round trips instead of four and a script upload), the layer's own group_send elsewhere."""
    if _has_batch_path(layer):
        await _redis_group_send_batch(layer, [(group, message)])
    else:
        await layer.group_send(group, message)


def group_send_many(layer: BaseChannelLayer, sends: list[tuple[str, dict]]) -> None:
    """Many group_sends from sync code, waiting once (one hop to the sender loop).

    On channels-redis's RedisChannelLayer the whole batch takes two round trips per Redis host;
    another layer gets its own group_send, a few at a time. Raises the first failure, or
    TimeoutError after SEND_TIMEOUT seconds for the whole batch.
    """
    if not sends:
        return
    if isinstance(layer, InMemoryChannelLayer):
        for group, message in sends:
            async_to_sync(layer.group_send)(group, message)
        return

    async def send_all() -> None:
        if _has_batch_path(layer):
            await _redis_group_send_batch(layer, sends)
            return
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(group: str, message: dict) -> None:
            async with gate:
                await layer.group_send(group, message)

        await asyncio.gather(*(send(group, message) for group, message in sends))

    future = asyncio.run_coroutine_threadsafe(send_all(), _sender_loop())  # one hop, one wait
    try:
        future.result(timeout=SEND_TIMEOUT + len(sends) / 1000)
    except TimeoutError:
        future.cancel()
        raise


def group_send(layer: BaseChannelLayer, group: str, message: dict) -> None:
    """layer.group_send from sync code; raises on failure or after SEND_TIMEOUT seconds."""
    group_send_many(layer, [(group, message)])
