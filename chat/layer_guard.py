"""Sockets that survive a channel-layer (Redis) outage instead of dying with 1011.

Channels' consumer loop awaits the client and the channel layer together; when Redis goes away
the layer's receive raises and the whole consumer crashes (Daphne closes 1011). `LayerGuard`
runs the same loop with a guarded layer receive: on an unreachable layer the socket stays open
in a degraded state (`layer_down`: the consumer still answers its client, e.g. stores and
acknowledges chat messages, but gets no live frames) — every socket of the process at once,
since they share one Redis — and every few seconds each sends a probe to its own channel. Once
Redis answers, the probe comes back through the layer and the socket is closed with 4012 (our
"service restarted": applications may only use 1000 and 3000-4999) so the client reconnects at
once and resumes (`?after=` for the chat, the catch-up request for the bell): groups are joined
afresh and whatever was missed is replayed from the database. Errors other than an unreachable
layer still propagate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

LAYER_BACK = 4012  # close code once the layer is back: reconnect now, resume (1012 is not allowed to apps)
PROBE_FIRST, PROBE_MAX = 0.5, 5.0  # seconds between probes while the layer is down (doubling)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


def unreachable(error: BaseException) -> bool:
    """Is this the channel layer (Redis) being unreachable, as opposed to a bug?"""
    return isinstance(error, UNREACHABLE)


class LayerGuard:
    """Mixin for AsyncWebsocketConsumer subclasses (put it first in the bases)."""

    layer_down = False
    probe_task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send) -> None:
        # channels.consumer.AsyncConsumer.__call__, with _layer_receive for the layer's receive.
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            sources.append(self._layer_receive)
        _guards.add(self)
        try:
            with contextlib.suppress(StopConsumer):
                await await_many_dispatch(sources, self.dispatch)
        finally:
            _guards.discard(self)
            if self.probe_task is not None:
                self.probe_task.cancel()

    async def dispatch(self, message: dict) -> None:
        """AsyncConsumer.dispatch without its `aclose_old_connections()`: a hop to the sync thread
        on every frame and every push (a third of a chat message's CPU, issue 13). The database
        work of these consumers runs through `database_sync_to_async`, which closes old
        connections around each call itself, or chat.hot_path's threads, which manage theirs."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _layer_receive(self) -> dict:
        while True:
            try:
                return await self.channel_layer.receive(self.channel_name)
            except Exception as error:
                if not unreachable(error):
                    raise
                await self.layer_failed(error)
                await asyncio.sleep(PROBE_FIRST)

    async def layer_failed(self, error: BaseException) -> None:
        """The layer is unreachable. Channels-redis runs one blocking receive per process for all
        its sockets, so only one socket sees the error: every socket of this process is degraded
        (a restarted Redis has forgotten all their groups)."""
        if not self.layer_down:
            logger.warning("channel layer unreachable (%s): sockets degraded until it is back", type(error).__name__)
        for guard in list(_guards):
            await guard.degrade()
        await self.degrade()

    async def degrade(self) -> None:
        if self.layer_down:
            return
        self.layer_down = True
        self.probe_task = asyncio.ensure_future(self._probe())
        await self.on_layer_down()

    async def _probe(self) -> None:
        """Send a probe to this socket's own channel until the layer takes it; it comes back
        through the layer's receive as `layer.back`."""
        delay = PROBE_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                await self.channel_layer.send(self.channel_name, {"type": "layer.back"})
                return
            except Exception as error:
                if not unreachable(error):
                    raise
            delay = min(delay * 2, PROBE_MAX)

    async def on_layer_down(self) -> None:
        """Hook: the socket has just become degraded."""

    async def layer_back(self, event: dict) -> None:
        """The probe came back: the layer works again."""
        if self.layer_down:
            await self.close(code=LAYER_BACK)

    async def join(self, group: str) -> bool:
        """group_add; False (and degraded) when the layer is unreachable."""
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception as error:
            if not unreachable(error):
                raise
            await self.layer_failed(error)
            return False
        return True

    async def join_many(self, groups: list[str]) -> list[bool]:
        """`join` for several groups at once (a socket's connect): in one pipelined round trip per
        Redis host on the portal's layer (support_portal.channel_layer.group_add_many), concurrently
        on any other. False for each group if the layer is unreachable."""
        layer = self.channel_layer
        if not hasattr(layer, "group_add_many"):
            return list(await asyncio.gather(*(self.join(group) for group in groups)))
        try:
            await layer.group_add_many(groups, self.channel_name)
        except Exception as error:
            if not unreachable(error):
                raise
            await self.layer_failed(error)
            return [False] * len(groups)
        return [True] * len(groups)

    async def leave(self, group: str) -> None:
        """group_discard that never fails the disconnect (an unreachable layer forgets groups anyway)."""
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception as error:
            if not unreachable(error):
                raise


_guards: weakref.WeakSet[LayerGuard] = weakref.WeakSet()  # the open sockets of this process
