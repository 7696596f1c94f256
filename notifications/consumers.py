"""WebSocket `/ws/notifications/`: live notification frames (and chat queue frames for agents).

The socket is push-only: the server forwards whatever reaches the user's groups. The client has
nothing to say on it: every frame it sends is answered with an `error` frame (`invalid`, or
`too_long` above chat.frames.MAX_FRAME_CHARS) and the socket stays open. A channel-layer (Redis)
outage degrades the socket and closes it with 4012 once Redis is back (chat.layer_guard), so the
bell reconnects and catches up. Origin is checked before this runs (support_portal.asgi, 4403).
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from accounts import socket_open
from accounts.access import is_agent
from accounts.socket_auth import SocketAuthMixin
from chat import heartbeats, presence
from chat.frames import FrameError, error_frame, parse_frame
from chat.layer_guard import LayerGuard
from notifications.services import AGENTS_GROUP, user_group
from support_portal import socket_threads

NOT_LOGGED_IN = 4401


class NotificationConsumer(LayerGuard, SocketAuthMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.joined: list[str] = []
        self.presence_keys: list[str] = []
        user = self.scope.get("user")
        signed_in = user is not None and user.is_authenticated and user.is_active
        opening = socket_open.prepare(self) if signed_in else None
        if opening is None:
            # Accept first: a close before accept would reach the browser as a bare handshake 403.
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        groups = [user_group(user.pk)]
        if is_agent(user):
            groups.append(AGENTS_GROUP)
        # Join before accepting: once the client sees the socket open it fetches the catch-up,
        # and anything committed after that read is then certain to be pushed. All groups at once
        # (the user's socket group first in the list: the grant's recheck arrives there), then the
        # grant check and, for an agent, presence, in one thread hop (accounts.socket_open).
        joined = await self.join_many([self.sockauth_group, *groups])
        self.joined = [group for group, ok in zip(groups, joined[1:], strict=True) if ok]  # layer down: 4012 later
        checked = await socket_threads.run(self._open, opening, is_agent(user))
        socket_open.settle(self, checked)
        await self.accept()
        if checked.code is not None:
            await self.close(code=checked.code)
            return
        if is_agent(user):
            self.presence_keys = [presence.agent_key(user.pk)]
            heartbeats.for_this_loop().hold(self.presence_keys)  # one batch per process (chat.heartbeats)

    @staticmethod
    def _open(opening: socket_open.Opening, agent: bool) -> socket_open.Checked:
        """In a connect thread, after the groups were joined: the grant, then (an agent with the
        portal open is online for the chat queue, which may route waiting chats: chat.dispatch)
        presence."""
        checked = socket_open.check(opening)
        if checked.code is None and agent:
            presence.agent_connected(opening.grant.user_id)
        return checked

    async def disconnect(self, code: int) -> None:
        await self.sockauth_leave()
        for group in getattr(self, "joined", []):
            await self.leave(group)
        if getattr(self, "presence_keys", None):
            heartbeats.for_this_loop().release(self.presence_keys)
            self.presence_keys = []
            await database_sync_to_async(presence.agent_disconnected)(self.scope["user"].pk)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """The client has nothing to say on this socket: any frame gets an error frame."""
        if not getattr(self, "joined", None) and not self.layer_down:
            return  # closed at connect (not logged in)
        try:
            parse_frame(text_data)
        except FrameError as error:
            await self.send_json(error_frame(error.code, error.detail))
            return
        await self.send_json(error_frame("invalid", _("Este canal no acepta tramas del cliente.")))

    async def push_frame(self, event: dict) -> None:
        if await self.sockauth_allows_push():  # nothing reaches a socket whose grant has ended
            await self.send_json(event["frame"])
