"""The database work of opening a WebSocket, off the event loop, in threads that keep their connection.

A socket's connect reads the session and the user (support_portal.socket_session), then checks
its grant, its conversation and replays history (chat.consumers, notifications.consumers). Through
Channels' `database_sync_to_async` every such call ran on the process's one sync thread, closed
old connections around it and took a pooled connection with the pool's `SELECT 1` check: at
hundreds of sockets a second that thread was the queue and a third of its time was connection
handling (issue 13, docs/PERFORMANCE.md "Idle sockets").

On PostgreSQL `run()` hands the call to one of THREADS threads of this module instead: each holds
one pooled connection while it has work and gives it back after IDLE_RELEASE s without (as
chat.hot_path's workers do); a connection that failed is closed, so the next call takes a fresh one.
On SQLite (one writer at a time; the embedded default and most tests) it stays on Channels'
single database thread.

The function runs in the thread's own context (no contextvars of the calling socket), so nothing
it creates (a cache client, a database wrapper) is carried back into the socket's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

THREADS = 3  # per process; each holds one pooled connection while busy
IDLE_RELEASE = 10.0  # seconds without work after which a thread gives its connection back

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_threads: list[threading.Thread] = []
_lock = threading.Lock()


def _engine() -> str:
    # From the settings, not `connection.vendor`: touching `connection` on the event loop creates
    # a database wrapper in the calling socket's context, which keeps it for the socket's life.
    return settings.DATABASES["default"]["ENGINE"]


def _postgresql() -> bool:
    return "postgresql" in _engine()


def sqlite() -> bool:
    """Is the database SQLite (one writer at a time)? Safe to ask on the event loop."""
    return "sqlite" in _engine()


def _worker() -> None:
    while True:
        try:
            job = _jobs.get(timeout=IDLE_RELEASE)
        except queue.Empty:
            if connection.connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()  # idle: give the connection back to the pool
            continue
        loop, future, func, args = job
        try:
            result = func(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting coroutine
            if isinstance(error, (OperationalError, InterfaceError)) or (
                isinstance(error, DatabaseError) and connection.needs_rollback
            ):
                with contextlib.suppress(Exception):
                    connection.close()  # a fresh connection for the next job
            _reply(loop, future, None, error)
        else:
            _reply(loop, future, result, None)


def _reply(loop: asyncio.AbstractEventLoop, future: asyncio.Future, result, error) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed (its socket is gone): nobody waits
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _start() -> None:
    with _lock:
        _threads[:] = [thread for thread in _threads if thread.is_alive()]
        while len(_threads) < THREADS:
            thread = threading.Thread(target=_worker, name=f"socket-open-{len(_threads)}", daemon=True)
            thread.start()
            _threads.append(thread)


async def run(func, *args):
    """func(*args) off the event loop: a connect thread on PostgreSQL, Channels' database thread else."""
    if not _postgresql():
        return await database_sync_to_async(func)(*args)
    if len(_threads) < THREADS:
        _start()
    future = asyncio.get_running_loop().create_future()
    _jobs.put((asyncio.get_running_loop(), future, func, args))
    return await future
