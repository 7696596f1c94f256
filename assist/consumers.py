"""WebSocket `/ws/tickets/<id>/presence/`: which agents are on a ticket, and who is writing a reply.

Agents only (a franchisee, or a ticket that does not exist, is closed 4404; not logged in 4401);
authorised for the life of the socket (accounts.socket_auth). Nothing is stored: the sockets of
one ticket (on every Daphne process, through the channel layer) tell each other their state —
a newcomer says `hello` and every other socket answers it directly — and each socket re-announces
itself every HEARTBEAT seconds, so a socket that vanished without a goodbye drops out after
EXPIRY. Frames (docs/TICKETS.md "Collision detection"):

- client → server: `{"type": "typing"}` (while writing, at most every few seconds),
  `{"type": "idle"}` (stopped writing, sent or left the box);
- server → client: `{"type": "viewers", "viewers": [{"id", "name", "typing"}]}`: the other
  agents on the ticket (not this user), sent whenever it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from accounts.access import is_agent
from accounts.socket_auth import SocketAuthMixin
from chat.frames import FrameError, error_frame, parse_frame
from chat.layer_guard import LayerGuard, unreachable

NOT_LOGGED_IN = 4401
NOT_FOUND = 4404
GROUP_PREFIX = "assist.ticket."
HEARTBEAT = 15.0  # seconds between re-announcements
EXPIRY = 40.0  # a peer not heard of for this long is gone
TYPING_EXPIRY = 8.0  # "writing" without a new typing frame for this long becomes idle


def ticket_group(ticket_id: int) -> str:
    return f"{GROUP_PREFIX}{ticket_id}"


def _ticket_exists(user, ticket_id: int) -> bool:
    from tickets.selectors import visible_tickets

    return is_agent(user) and visible_tickets(user).filter(pk=ticket_id).exists()


class TicketPresenceConsumer(LayerGuard, SocketAuthMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.group = None
        self.peers: dict[str, dict] = {}  # channel name -> {"id", "name", "typing_at", "seen"}
        self.typing_at = 0.0
        self.last_beat = time.monotonic()
        self.last_sent: list | None = None
        self.tasks: list[asyncio.Task] = []
        self.user = self.scope.get("user")
        await self.accept()  # a close before accept would be a bare handshake 403
        if self.user is None or not self.user.is_authenticated or not self.user.is_active:
            await self.close(code=NOT_LOGGED_IN)
            return
        if (code := await self.sockauth_join()) is not None:
            await self.close(code=code)
            return
        ticket_id = self.scope["url_route"]["kwargs"]["ticket_id"]
        if not await database_sync_to_async(_ticket_exists)(self.user, ticket_id):
            await self.close(code=NOT_FOUND)
            return
        self.group = ticket_group(ticket_id)
        await self.join(self.group)
        await self._announce("presence.hello")
        await self._send_viewers(force=True)
        self.tasks.append(asyncio.create_task(self._heartbeat()))

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if getattr(self, "group", None):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_send(self.group, {"type": "presence.bye", "from": self.channel_name})
            await self.leave(self.group)
        await self.sockauth_leave()

    # --- what this socket says ---------------------------------------------------------------

    def _me(self) -> dict:
        return {
            "from": self.channel_name,
            "user": {"id": self.user.pk, "name": self.user.display_name},
            "typing": self._typing_now(),
        }

    def _typing_now(self) -> bool:
        return bool(self.typing_at) and time.monotonic() - self.typing_at < TYPING_EXPIRY

    async def _announce(self, kind: str) -> None:
        try:
            await self.channel_layer.group_send(self.group, {"type": kind, **self._me()})
        except Exception as error:  # the layer is down: presence is best effort
            if not unreachable(error):
                raise
            await self.layer_failed(error)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(min(HEARTBEAT, TYPING_EXPIRY / 2))
            if self.typing_at and not self._typing_now():
                self.typing_at = 0.0
                await self._announce("presence.state")
            now = time.monotonic()
            if now - self.last_beat >= HEARTBEAT:
                self.last_beat = now
                await self._announce("presence.state")
            await self._send_viewers()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.group is None or not await self.sockauth_allows_receive():
            return
        try:
            frame = parse_frame(text_data)
        except FrameError as error:
            await self.send_json(error_frame(error.code, error.detail))
            return
        if frame["type"] == "typing":
            was = self._typing_now()
            self.typing_at = time.monotonic()
            if not was:
                await self._announce("presence.state")
        elif frame["type"] == "idle":
            if self.typing_at:
                self.typing_at = 0.0
                await self._announce("presence.state")
        else:
            await self.send_json(error_frame("invalid", _("Tipo de trama desconocido.")))

    # --- what the others say ------------------------------------------------------------------

    def _remember(self, event: dict) -> bool:
        if event["from"] == self.channel_name:
            return False
        self.peers[event["from"]] = {
            "id": event["user"]["id"],
            "name": event["user"]["name"],
            "typing": bool(event.get("typing")),
            "seen": time.monotonic(),
        }
        return True

    async def presence_hello(self, event: dict) -> None:
        if self._remember(event):
            try:  # answer the newcomer directly with this socket's state
                await self.channel_layer.send(event["from"], {"type": "presence.state", **self._me()})
            except Exception as error:
                if not unreachable(error):
                    raise
                await self.layer_failed(error)
            await self._send_viewers()

    async def presence_state(self, event: dict) -> None:
        if self._remember(event):
            await self._send_viewers()

    async def presence_bye(self, event: dict) -> None:
        if self.peers.pop(event["from"], None) is not None:
            await self._send_viewers()

    async def _send_viewers(self, force: bool = False) -> None:
        """The other agents (each once, writing if any of their sockets is) to the client."""
        now = time.monotonic()
        self.peers = {name: peer for name, peer in self.peers.items() if now - peer["seen"] < EXPIRY}
        people: dict[int, dict] = {}
        for peer in self.peers.values():
            if peer["id"] == self.user.pk:
                continue
            entry = people.setdefault(peer["id"], {"id": peer["id"], "name": peer["name"], "typing": False})
            entry["typing"] = entry["typing"] or peer["typing"]
        viewers = sorted(people.values(), key=lambda p: (p["name"], p["id"]))
        if not force and viewers == self.last_sent:
            return
        if not await self.sockauth_allows_push():
            return
        self.last_sent = viewers
        await self.send_json({"type": "viewers", "viewers": viewers})
