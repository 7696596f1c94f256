"""WebSocket `/ws/chat/<conversation_id>/?after=<message_id>` (DESIGN.md "WebSocket contract").

On connect: history replay (id > after), then the conversation's status and read markers,
then live frames from the conversation's group. Refusals of a client frame are `error` frames
and the socket stays open: frames are parsed by chat.frames.parse_frame, and anything that
cannot be stored gets `invalid` (or `unavailable` when a part is down: retry later). A channel
layer (Redis) outage degrades the socket instead of killing it (chat.layer_guard). Origin was
checked before this runs (support_portal.asgi, 4403).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from urllib.parse import parse_qs

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils.translation import gettext as _

from accounts.access import is_agent
from accounts.socket_auth import SocketAuthMixin
from chat import heartbeats, hot_path, presence, selectors, services
from chat.frames import (
    FrameError,
    conversation_frame,
    conversation_group,
    error_frame,
    localize,
    message_frame,
    parse_frame,
    read_frame,
    typing_frame,
)
from chat.layer_guard import LayerGuard, unreachable
from support_portal.stored_text import language_of

logger = logging.getLogger(__name__)

NOT_LOGGED_IN = 4401
NOT_FOUND = 4404
REPLAY_MEMORY = 500  # ids of the replay remembered to drop live copies of the same messages
TYPING_EVERY = 2.0  # seconds: at most one typing frame per socket per interval is relayed


def writer(func):
    """Run a chat write off the event loop. On PostgreSQL writes from many sockets run in
    parallel worker threads (each with its own connection), so one commit waiting on the disk
    does not stall the others; SQLite allows one writer at a time and its busy-wait backs off
    in long sleeps, so there they share Channels' single database thread."""
    return DatabaseSyncToAsync(func, thread_sensitive=connection.vendor == "sqlite")


def _after(query_string: bytes) -> int:
    values = parse_qs(query_string.decode("latin1")).get("after", ["0"])
    try:
        return max(int(values[-1]), 0)
    except ValueError:
        return 0


class ChatConsumer(LayerGuard, SocketAuthMixin, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = None
        self.presence_keys: list[str] = []
        self.heartbeat_held = False
        self.replayed: set[int] = set()
        self.last_sent = 0  # highest message id sent on this socket
        self.last_typing = 0.0
        self.user = self.scope.get("user")
        self.hot = hot_path.HotSender(self) if hot_path.enabled() else None  # one statement per message
        # Accept first: a close before accept would reach the browser as a bare handshake 403.
        await self.accept()
        if self.user is None or not self.user.is_authenticated or not self.user.is_active:
            await self.close(code=NOT_LOGGED_IN)
            return
        if (code := await self.sockauth_join()) is not None:  # lives only while the grant holds
            await self.close(code=code)
            return
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.conversation = await database_sync_to_async(selectors.find_conversation)(self.user, conversation_id)
        if self.conversation is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = conversation_group(self.conversation.pk)
        await self.join(self.group)  # layer down: degraded (replay + sending work), closed 4012 once back
        self.presence_keys = [presence.viewer_key(self.conversation.pk, self.user.pk)]
        if is_agent(self.user):
            self.presence_keys.append(presence.agent_key(self.user.pk))
        for key in self.presence_keys:
            await database_sync_to_async(presence.enter)(key)
        heartbeats.for_this_loop().hold(self.presence_keys)  # one batch per process (chat.heartbeats)
        self.heartbeat_held = True
        await self._replay(_after(self.scope.get("query_string", b"")))

    async def _replay(self, after: int) -> None:
        frames, markers, status = await database_sync_to_async(self._replay_frames)(after)
        recent: deque[int] = deque(maxlen=REPLAY_MEMORY)
        for frame in frames:
            recent.append(frame["id"])
            await self.send_json(frame)
        self.replayed = set(recent)
        await self.send_json(status)
        for user_id, up_to in markers.items():
            await self.send_json(read_frame(user_id, up_to))

    def _replay_frames(self, after: int) -> tuple[list[dict], dict[int, int], dict]:
        conversation = selectors.find_conversation(self.user, self.conversation.pk)
        self.conversation = conversation or self.conversation
        frames = [message_frame(m) for m in selectors.history(self.conversation.pk, after).iterator(chunk_size=500)]
        return frames, selectors.read_markers(self.conversation), conversation_frame(self.conversation)

    async def disconnect(self, code: int) -> None:
        await self.sockauth_leave()
        if getattr(self, "heartbeat_held", False):
            heartbeats.for_this_loop().release(self.presence_keys)
            self.heartbeat_held = False
        if getattr(self, "group", None):
            await self.leave(self.group)
        for key in getattr(self, "presence_keys", []):
            await database_sync_to_async(presence.leave)(key)

    # --- client → server -------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.group is None:
            return
        try:
            frame, problem = parse_frame(text_data), None
        except FrameError as error:
            frame, problem = None, error
        # The hot path checks the grant inside its statement (chat.hot_path); every other frame here.
        hot = self.hot is not None and frame is not None and frame["type"] == "message.send"
        if not hot and not await self.sockauth_allows_receive():
            return
        try:
            if problem is not None:
                raise problem
            handlers = {"message.send": self._send_message, "typing": self._typing, "read": self._read}
            handler = handlers.get(frame["type"])
            if handler is None:
                raise FrameError("invalid", _("Tipo de trama desconocido."))
            await handler(frame)
        except (FrameError, services.ChatError) as error:
            await self._error(error.code, error.detail)
        except Exception as error:  # noqa: BLE001 - never 1011: the client gets an error frame
            await self._refuse(error)

    async def _refuse(self, error: Exception) -> None:
        """A frame that could not be handled: `unavailable` if a part is down (nothing was
        stored; the client resends later with the same client_id), else `invalid`."""
        if unreachable(error) or isinstance(error, (OperationalError, InterfaceError)):
            logger.warning("chat frame refused, service unavailable: %s", type(error).__name__)
            await self._error("unavailable", _("El servicio no está disponible ahora mismo: se reintentará."))
            return
        if isinstance(error, DatabaseError):
            logger.warning("chat frame refused by the database: %s", type(error).__name__)
        else:
            logger.exception("chat frame could not be handled")
        await self._error("invalid", _("No se ha podido guardar el mensaje."))

    async def on_layer_down(self) -> None:
        if getattr(self, "group", None) is not None:  # accepted (the layer may fail before connect ran)
            detail = _("Tiempo real no disponible: tus mensajes se guardan y se entregan al volver.")
            await self._error("unavailable", detail)

    async def _send_message(self, frame: dict) -> None:
        if self.hot is not None:
            await self._send_hot(frame)
            return
        message, created = await writer(services.post_message)(
            conversation_id=self.conversation.pk,
            author=self.user,
            body=frame.get("body"),
            client_id=frame.get("client_id"),
            broadcast=False,
        )
        if created:  # committed: now everyone on the conversation, this socket included
            try:
                await self.channel_layer.group_send(self.group, {"type": "push.frame", "frame": message_frame(message)})
            except Exception as error:  # the layer is down: the message is stored; others get it on resume
                if not unreachable(error):
                    logger.exception("broadcast of chat message %s failed", message.pk)
                await self.layer_failed(error)
        if self.layer_down:  # degraded: acknowledge from the database (even if the broadcast worked)
            await self._catch_up(message.pk, message_frame(message))
        elif not created:  # a retry: answer with the original, to this socket only
            await self.send_json(message_frame(message))

    async def _send_hot(self, frame: dict) -> None:
        """message.send through chat.hot_path: one Redis call, one SQL statement, frame encoded once."""
        stored = await self.hot.post(frame)
        if stored is None:  # the grant ended: the socket is closed
            return
        if stored.created:
            event = {"type": "push.frame", "text": stored.text, "id": stored.frame["id"], "t": time.time()}
            try:
                await self.channel_layer.group_send(self.group, event)
            except Exception as error:  # the layer is down: the message is stored; others get it on resume
                if not unreachable(error):
                    logger.exception("broadcast of chat message %s failed", stored.frame["id"])
                await self.layer_failed(error)
        if self.layer_down:
            await self._catch_up(stored.frame["id"], stored.frame)
        elif not stored.created:
            await self.send_json(stored.frame)

    async def _catch_up(self, message_id: int, own: dict) -> None:
        """Degraded: acknowledge from the database, with every message this socket missed before
        it. Acknowledging only this message would move the client's ?after= past the messages others
        sent meanwhile, and its resume would skip them."""
        after = self.last_sent

        def missed() -> list[dict]:
            return [message_frame(m) for m in selectors.history(self.conversation.pk, after).filter(id__lte=message_id)]

        frames = await database_sync_to_async(missed)()
        if not frames or frames[-1]["id"] != message_id:  # already sent (a retry): answer it anyway
            frames.append(own)
        for frame in frames:
            self.replayed.add(frame["id"])
            await self.send_json(frame)

    async def _typing(self, frame: dict) -> None:
        if not selectors.can_post(self.user, self.conversation):
            raise services.Forbidden(_("No puedes escribir en esta conversación."))
        now = time.monotonic()
        if now - self.last_typing < TYPING_EVERY or self.layer_down:
            return
        self.last_typing = now
        try:
            await self.channel_layer.group_send(
                self.group,
                {"type": "push.frame", "frame": typing_frame(self.user), "exclude": self.channel_name},
            )
        except Exception as error:  # typing is ephemeral: an unreachable layer just drops it
            if not unreachable(error):
                raise

    async def _read(self, frame: dict) -> None:
        await writer(services.mark_read)(conversation_id=self.conversation.pk, user=self.user, up_to=frame.get("up_to"))

    # --- server → client -------------------------------------------------------------------

    async def push_frame(self, event: dict) -> None:
        """A frame sent to the conversation's group."""
        if event.get("exclude") == self.channel_name or not await self.sockauth_allows_push():
            return
        if "text" in event:  # a message frame already encoded (chat.hot_path)
            if "t" in event:
                hot_path.admission.delivered(event["t"])
            if event["id"] not in self.replayed:
                self.last_sent = max(self.last_sent, event["id"])
                await self.send(text_data=event["text"])
            return
        frame = event["frame"]
        kind = frame.get("type")
        if kind == "message" and frame["id"] in self.replayed:
            return  # already sent by the replay
        if kind == "conversation":
            self._remember_status(frame)
        await self.send_json(frame)

    def _remember_status(self, frame: dict) -> None:
        self.conversation.status = frame["status"]
        self.conversation.agent_id = frame["agent"]["id"] if frame["agent"] else None
        self.conversation.ticket_id = frame["ticket"]

    async def _error(self, code: str, detail: str) -> None:
        await self.send_json(error_frame(code, str(detail)))

    async def send_json(self, frame: dict) -> None:
        if frame.get("type") == "message":
            self.last_sent = max(self.last_sent, frame["id"])
            frame = localize(frame, language_of(self.user))  # system messages in this reader's language
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))
