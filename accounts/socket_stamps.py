"""Socket stamps read in batches: one cache round trip for every push of one event-loop turn.

`SocketAuthMixin.sockauth_allows_push` compares the user's stamp before every push (docs/SECURITY.md
"Socket lifetime"). A chat message reaches at least two sockets and a queue frame every agent's:
instead of one thread hop and one Redis GET per socket, the reads asked for in the same turn of the
event loop are answered by one `cache.get_many` (one MGET) in one thread hop. Each read still happens
after its push arrived, so a stamp changed before the push is seen (issue 13).
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core.cache import cache


def read_stamps(user_ids: list[int]) -> dict[int, str]:
    """The current stamps of these users (missing ones are created, as socket_auth.stamp does)."""
    from accounts.socket_auth import _stamp_key, stamp

    found = cache.get_many([_stamp_key(pk) for pk in user_ids])
    return {pk: found.get(_stamp_key(pk)) or stamp(pk) for pk in user_ids}


# Threads of their own: the default executor also runs database calls, which can wait for a
# pooled connection (up to DB_POOL_TIMEOUT), and pushes must not wait behind them.
_read = sync_to_async(
    read_stamps, thread_sensitive=False, executor=ThreadPoolExecutor(2, thread_name_prefix="socket-stamps")
)


class _Batch:
    def __init__(self) -> None:
        self.waiting: dict[int, list[asyncio.Future]] = {}
        self.tasks: set[asyncio.Task] = set()

    def ask(self, user_id: int) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if not self.waiting:
            loop.call_soon(self._flush)  # after the other pushes of this turn asked too
        future = loop.create_future()
        self.waiting.setdefault(user_id, []).append(future)
        return future

    def _flush(self) -> None:
        batch, self.waiting = self.waiting, {}
        task = asyncio.ensure_future(self._answer(batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def _answer(batch: dict[int, list[asyncio.Future]]) -> None:
        try:
            values = await _read(list(batch))
        except Exception as error:  # noqa: BLE001 - each waiting push handles it (database fallback)
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for pk, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(values[pk])


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()


async def batched_stamp(user_id: int) -> str:
    """The user's current stamp, read together with the other reads of this loop turn."""
    loop = asyncio.get_running_loop()
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = _Batch()
    return await batch.ask(user_id)
