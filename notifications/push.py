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
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer

SEND_TIMEOUT = 2.0

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


SEND_CONCURRENCY = 16  # group_sends in flight at once on a layer without group_send_many


def group_send_many(layer: BaseChannelLayer, sends: list[tuple[str, dict]]) -> None:
    """Many group_sends from sync code, waiting once (one hop to the sender loop).

    The portal's Redis layer takes the whole batch in two round trips per Redis host
    (support_portal.channel_layer); another layer gets its own group_send, a few at a time.
    Raises the first failure, or TimeoutError after SEND_TIMEOUT seconds for the whole batch.
    """
    if not sends:
        return
    if isinstance(layer, InMemoryChannelLayer):
        for group, message in sends:
            async_to_sync(layer.group_send)(group, message)
        return

    async def send_all() -> None:
        if hasattr(layer, "group_send_many"):
            await layer.group_send_many(sends)
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
