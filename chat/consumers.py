"""WebSocket `/ws/chat/<conversation_id>/?after=<message_id>` (DESIGN.md "WebSocket contract").

On connect: history replay (id > after), then the conversation's status and read markers,
then live frames from the conversation's group. Refusals of a client frame are `error` frames
and the socket stays open: frames are parsed by chat.frames.parse_frame, and anything that
cannot be stored gets `invalid` (or `unavailable` when a part is down: retry later). A channel
layer (Redis) outage degrades the socket instead of killing it (chat.layer_guard). Origin was
checked before this runs (support_portal.asgi, 4403).
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from accounts import socket_open
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
from support_portal import socket_threads
from support_portal.stored_text import language_of

logger = logging.getLogger(__name__)

NOT_LOGGED_IN = 4401
NOT_FOUND = 4404
REPLAY_MEMORY = 500  # ids of the replay remembered to drop live copies of the same messages
REPLAY_PAGE = 500  # messages per query of the replay
TYPING_EVERY = 2.0  # seconds: at most one typing frame per socket per interval is relayed


def writer(func):
    """Run a chat write off the event loop. On PostgreSQL writes from many sockets run in
    parallel worker threads (each with its own connection), so one commit waiting on the disk
    does not stall the others; SQLite allows one writer at a time and its busy-wait backs off
    in long sleeps, so there they share Channels' single database thread."""
    return DatabaseSyncToAsync(func, thread_sensitive=socket_threads.sqlite())


def _after(query_string: bytes) -> int:
    values = parse_qs(query_string.decode("latin1")).get("after", ["0"])
    try:
        return max(int(values[-1]), 0)
    except ValueError:
        return 0


def _hot_path_enabled() -> bool:
    # hot_path.enabled() reads `connection.vendor`: in a context of its own, so that the database
    # wrapper it makes is not left in this socket's task for the socket's life (support_portal.asgi).
    return contextvars.Context().run(hot_path.enabled)


def _replay_frames(conversation_id: int, after: int) -> list[dict]:
    """The frames of every message with id > after, read REPLAY_PAGE at a time by id: plain
    queries (a short replay is one), not a server-side cursor (DECLARE … WITH HOLD, FETCH, CLOSE:
    three round trips and a materialised result per socket opened)."""
    frames: list[dict] = []
    while True:
        page = [message_frame(m) for m in selectors.history(conversation_id, after)[:REPLAY_PAGE]]
        frames += page
        if len(page) < REPLAY_PAGE:
            return frames
        after = page[-1]["id"]


class HeldConversation:
    """What a socket keeps of its conversation after connect: the columns its frames and checks
    read (`selectors.can_post`, chat.hot_path's viewers, status frames), not the model instance
    with its franchise, franchisee and agent rows (re-read from the database where they matter)."""

    __slots__ = ("agent_id", "franchisee_id", "pk", "status", "ticket_id")

    def __init__(self, conversation) -> None:
        self.pk = conversation.pk
        self.status = conversation.status
        self.franchisee_id = conversation.franchisee_id
        self.agent_id = conversation.agent_id
        self.ticket_id = conversation.ticket_id

    @property
    def id(self) -> int:
        return self.pk


@dataclass
class Opened:
    """The outcome of a chat socket's connect hop."""

    checked: socket_open.Checked
    code: int | None = None  # set: close with it
    conversation: HeldConversation | None = None
    presence_keys: list[str] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)
    markers: dict[int, int] = field(default_factory=dict)
    status: dict | None = None


class ChatConsumer(LayerGuard, SocketAuthMixin, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = None  # set once the socket may see the conversation: pushes wait for it
        self.presence_keys: list[str] = []
        self.heartbeat_held = False
        self.replayed: set[int] = set()
        self.last_sent = 0  # highest message id sent on this socket
        self.last_typing = 0.0
        self.user = self.scope.get("user")
        self.hot = hot_path.HotSender(self) if _hot_path_enabled() else None  # one statement per message
        # Accept first: a close before accept would reach the browser as a bare handshake 403.
        await self.accept()
        if self.user is None or not self.user.is_authenticated or not self.user.is_active:
            await self.close(code=NOT_LOGGED_IN)
            return
        opening = socket_open.prepare(self)
        if opening is None:
            await self.close(code=NOT_LOGGED_IN)
            return
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        group = conversation_group(conversation_id)
        # Both groups at once, before the database is read (the grant's recheck and the replay
        # both rely on it); nothing of the conversation is pushed before `self.group` is set.
        # Layer down: degraded (replay + sending work), closed 4012 once back.
        await self.join_many([self.sockauth_group, group])
        after = _after(self.scope.get("query_string", b""))
        opened = await socket_threads.run(self._open, opening, conversation_id, after)
        socket_open.settle(self, opened.checked)
        if opened.code is not None:
            await self.leave(group)
            await self.close(code=opened.code)
            return
        self.conversation = opened.conversation
        if self.hot is not None and opened.checked.unchanged:  # the grant as just checked: its snapshot
            self.hot.snapshot = hot_path.Snapshot(
                user_id=opening.grant.user_id,
                role=opening.grant.role,
                franchise_id=opening.grant.franchise_id,
                password=opening.password,
                session_epoch=opening.session_epoch,
                session_key=opening.grant.session_key,
                session_data=opening.session_data,
            )
        self.presence_keys = opened.presence_keys
        heartbeats.for_this_loop().hold(self.presence_keys)  # one batch per process (chat.heartbeats)
        self.heartbeat_held = True
        self.group = group
        await self._send_replay(opened)

    def _open(self, opening: socket_open.Opening, conversation_id: int, after: int) -> Opened:
        """The connect's one thread hop, after the groups were joined: the grant (accounts.socket_open),
        the conversation as this user may see it, presence, then the replay read."""
        checked = socket_open.check(opening)
        if checked.code is not None:
            return Opened(checked, checked.code)
        conversation = selectors.find_conversation(self.user, conversation_id)
        if conversation is None:
            return Opened(checked, NOT_FOUND)
        keys = [presence.viewer_key(conversation.pk, self.user.pk)]
        if is_agent(self.user):
            keys.append(presence.agent_key(self.user.pk))
        presence.enter_many(keys)
        frames = _replay_frames(conversation.pk, after)
        markers = selectors.read_markers(conversation)
        status = conversation_frame(conversation)
        return Opened(checked, None, HeldConversation(conversation), keys, frames, markers, status)

    async def _send_replay(self, opened: Opened) -> None:
        recent: deque[int] = deque(maxlen=REPLAY_MEMORY)
        for frame in opened.frames:
            recent.append(frame["id"])
            await self.send_json(frame)
        self.replayed = set(recent)
        await self.send_json(opened.status)
        for user_id, up_to in opened.markers.items():
            await self.send_json(read_frame(user_id, up_to))

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
        if self.group is None:  # not (or no longer, or not yet) allowed to see the conversation
            return
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
