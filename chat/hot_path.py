"""The chat's hot path: a `message.send` costs one Redis call and one SQL statement.

On PostgreSQL with database sessions, `post()` replaces `services.post_message` for socket
messages (docs/PERFORMANCE.md "Per-message cost", issue 13):

- **One Redis round trip** (`chat.limits.hit_and_read`): the flood limit and whether each other
  participant is viewing the conversation (chat.presence), in one Lua script.
- **One SQL statement** (`MESSAGE_SQL`): it re-checks the socket's grant (accounts.socket_auth —
  user active with the role, franchise, password and session epoch of the last full check; the
  session row still there, unexpired and unchanged), checks who may post, inserts the message
  (`ON CONFLICT DO NOTHING` on the client_id constraint: idempotent) and refreshes
  `last_activity_at`, all in one transaction. Anything that does not match the socket's
  snapshot sends the socket back to the full check (`socket_auth.verdict`): closed 4401/4403
  if the grant ended, else a new snapshot and the statement again. So a frame is still checked
  against the committed database state before anything is stored (docs/SECURITY.md).
- **Worker threads that keep their connection**: the statement runs in HOT_THREADS threads of
  this module, each holding one connection of the pool while it has work (released after
  IDLE_RELEASE s without), instead of Channels' `database_sync_to_async`, whose
  `close_old_connections` returned the connection to the pool and took it back (with the
  pool's health check, a `SELECT 1`) around every call. A connection that fails is closed, so
  the next call takes a fresh one (the frame that saw the failure gets `unavailable`).
- **Admission control** (`Admission`): at most MAX_INFLIGHT messages of this process are being
  stored at once, none while the event loop is more than MAX_LAG s late, and none while the
  frames this process delivers arrive more than MAX_DELIVERY_LAG s after their broadcast (the
  channel layer's queues); past that a
  message is refused at once with an error frame `busy` (nothing stored, the client's outbox
  resends it later with the same client_id), so an overload never builds a queue whose
  messages arrive late or expire: it refuses at the door and keeps delivering at capacity.
- The broadcast carries the frame encoded once (`text`), not re-encoded by every socket.

Everything else (other databases, cache sessions, retries, refusals, notifications of absent
participants) goes through the services as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.socket_auth import Grant, session_holds
from chat import limits, presence, selectors, services
from chat.frames import message_frame
from chat.models import Conversation, Message

logger = logging.getLogger(__name__)

HOT_THREADS = 2  # worker threads per process (each holds one pooled connection while busy)
IDLE_RELEASE = 10.0  # seconds without work after which a worker gives its connection back
MAX_INFLIGHT = 48  # messages being stored at once per process; more are refused `busy`
MAX_LAG = 1.0  # seconds of event-loop lateness above which new messages are refused `busy`
LAG_PROBE = 0.05  # seconds between event-loop lateness probes
MAX_DELIVERY_LAG = 0.4  # seconds from broadcast to a socket of this process above which `busy`
DELIVERY_MEMORY = 1.0  # seconds after which a delivery lag no longer counts (none observed since)


class Busy(services.ChatError):
    """The process is at capacity: refused at once, nothing stored (the client retries)."""

    code = "busy"


class GrantChanged(Exception):
    """The socket's grant snapshot no longer matches the database: run the full check."""


def enabled() -> bool:
    """The one-statement path needs PostgreSQL and database-backed sessions."""
    return connection.vendor == "postgresql" and settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


# --- the socket's grant snapshot ----------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the last full grant check saw; the statement checks that nothing of it changed."""

    user_id: int
    role: str
    franchise_id: int | None
    password: str
    session_epoch: int
    session_key: str
    session_data: str


def take_snapshot(grant: Grant) -> tuple[int | None, Snapshot | None]:
    """The full check (socket_auth.verdict's rules) and, while the grant holds, its snapshot."""
    from accounts.socket_auth import RIGHTS_CHANGED, SIGNED_OUT

    user = User.objects.filter(pk=grant.user_id).first()
    session = Session.objects.filter(session_key=grant.session_key or "", expire_date__gt=timezone.now()).first()
    if user is None or not user.is_active or session is None or not session_holds(grant.session_key, user):
        return SIGNED_OUT, None
    if user.role != grant.role or user.franchise_id != grant.franchise_id:
        return RIGHTS_CHANGED, None
    return None, Snapshot(
        user.pk,
        user.role,
        user.franchise_id,
        user.password,
        user.session_epoch,
        session.session_key,
        session.session_data,
    )


# --- the statement --------------------------------------------------------------------------

_POST_RULE = {
    # selectors.can_post, with scope_to_user for franchisees.
    "franchisee": "c.status <> 'closed' AND c.franchisee_id = %(uid)s AND c.franchise_id = %(fid)s",
    "agent": "c.status = 'active' AND c.agent_id = %(uid)s",
    "supervisor": "c.status = 'active'",
}

MESSAGE_SQL = """
WITH grant_ok AS (
    SELECT u.id FROM {user} u JOIN {session} s ON s.session_key = %(skey)s
    WHERE u.id = %(uid)s AND u.is_active AND u.role = %(role)s AND u.franchise_id IS NOT DISTINCT FROM %(fid)s
      AND u.password = %(pw)s AND u.session_epoch = %(epoch)s
      AND s.expire_date > %(now)s AND s.session_data = %(sdata)s
), conv AS (
    SELECT c.id, c.franchisee_id, c.agent_id FROM {conversation} c
    WHERE c.id = %(cid)s AND EXISTS (SELECT 1 FROM grant_ok) AND {rule}
), ins AS (
    INSERT INTO {message} ({columns}) SELECT {values} FROM conv
    ON CONFLICT (conversation_id, author_id, client_id) WHERE NOT (client_id = '') DO NOTHING
    RETURNING id
), touch AS (
    UPDATE {conversation} c SET last_activity_at = %(now)s FROM ins
    WHERE c.id = %(cid)s AND c.last_activity_at < %(stale)s
)
SELECT EXISTS (SELECT 1 FROM grant_ok), (SELECT id FROM ins), EXISTS (SELECT 1 FROM conv),
       (SELECT franchisee_id FROM conv), (SELECT agent_id FROM conv)
"""


def _message_fields() -> list:
    return [f for f in Message._meta.concrete_fields if not f.primary_key]


def _sql(role: str) -> str:
    fields = _message_fields()
    return MESSAGE_SQL.format(
        user=User._meta.db_table,
        session=Session._meta.db_table,
        conversation=Conversation._meta.db_table,
        message=Message._meta.db_table,
        columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
        values=", ".join(f"%(f_{f.column})s" for f in fields),
        rule=_POST_RULE.get(role, "FALSE"),
    )


def _row_values(message: Message) -> dict:
    """Every column of the new row as the ORM would write it (defaults of fields added later included)."""
    return {
        f"f_{f.column}": f.get_db_prep_save(f.pre_save(message, True), connection=connection) for f in _message_fields()
    }


@dataclass
class Stored:
    """The outcome of one message: its frame (as a dict and as JSON text) and whether it is new."""

    frame: dict
    text: str
    created: bool


def store(snapshot: Snapshot, user: User, conversation_id: int, body, client_id, viewers: list[int]) -> Stored:
    """Store one message (in a worker thread). `viewers` are the other participants as the
    socket knows them (their presence is read with the flood limit). Raises the services'
    refusals, GrantChanged, or Busy-free database errors."""
    client_id = services.clean_message(body, client_id)
    allowed, viewing = limits.hit_and_read(user.pk, [presence.viewer_key(conversation_id, v) for v in viewers])
    if not allowed:
        existing = selectors.find_by_client_id(conversation_id, user.pk, client_id)
        if existing is not None:
            return _frame_of(existing, created=False)
        raise services.RateLimited(_("Demasiados mensajes seguidos: espera unos segundos."))
    now = timezone.now()
    message = Message(conversation_id=conversation_id, author=user, body=body, client_id=client_id, created_at=now)
    params = {
        **_row_values(message),
        "uid": snapshot.user_id,
        "role": snapshot.role,
        "fid": snapshot.franchise_id,
        "pw": snapshot.password,
        "epoch": snapshot.session_epoch,
        "skey": snapshot.session_key,
        "sdata": snapshot.session_data,
        "now": now,
        "stale": now - services.ACTIVITY_RESOLUTION,
        "cid": conversation_id,
        "client_id": client_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(snapshot.role), params)
        grant_ok, message_id, may_post, franchisee_id, agent_id = cursor.fetchone()
    if not grant_ok:
        raise GrantChanged
    if message_id is None:
        existing = selectors.find_by_client_id(conversation_id, user.pk, client_id)
        if existing is not None:  # a retry (answered even when a new message would be refused)
            return _frame_of(existing, created=False)
        if not may_post:
            raise services.Forbidden(_("No puedes escribir en esta conversación."))
        raise services.Invalid(_("No se ha podido guardar el mensaje."))
    message.pk = message_id
    seen = {v for v, value in zip(viewers, viewing, strict=True) if value not in (None, b"0", 0)}
    if {franchisee_id, agent_id} - {None, user.pk} - seen:  # someone is not looking: notify them
        conversation = Conversation(pk=conversation_id, franchisee_id=franchisee_id, agent_id=agent_id)
        services._notify_absent(conversation, user, message)
    return _frame_of(message, created=True)


def _frame_of(message: Message, *, created: bool) -> Stored:
    frame = message_frame(message)
    return Stored(frame, json.dumps(frame, ensure_ascii=False), created)


# --- worker threads -------------------------------------------------------------------------

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def _worker() -> None:
    while True:
        try:
            job = _jobs.get(timeout=IDLE_RELEASE)
        except queue.Empty:
            if connection.connection is not None:
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
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def run(func, *args):
    """Run func(*args) in a hot worker thread."""
    if len(_threads) < HOT_THREADS:
        with _threads_lock:
            while len(_threads) < HOT_THREADS:
                thread = threading.Thread(target=_worker, name=f"chat-hot-{len(_threads)}", daemon=True)
                thread.start()
                _threads.append(thread)
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    _jobs.put((loop, future, func, args))
    return await future


# --- admission control ------------------------------------------------------------------------


class Admission:
    """How many messages this process is storing, and how late its event loop runs."""

    def __init__(self) -> None:
        self.inflight = 0
        self.lag = 0.0
        self.delivery_lag = 0.0  # smoothed broadcast → push time of the frames this process delivers
        self.delivery_seen = 0.0
        self._probe: asyncio.Task | None = None

    def delivered(self, sent_at: float) -> None:
        """A broadcast frame reached one of this process's sockets; `sent_at` is its time.time() at
        the broadcast. Queues behind the broadcast (the channel layer's lists, this process's
        receive loop) show here, where the in-flight count cannot see them."""
        now = time.time()
        self.delivery_lag = 0.8 * self.delivery_lag + 0.2 * max(0.0, now - sent_at)
        self.delivery_seen = now

    def _delivery_late(self) -> bool:
        if time.time() - self.delivery_seen > DELIVERY_MEMORY:
            self.delivery_lag = 0.0  # nothing delivered lately (e.g. all refused): let messages in again
        return self.delivery_lag > MAX_DELIVERY_LAG

    def _ensure_probe(self) -> None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._measure())

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + LAG_PROBE
            await asyncio.sleep(LAG_PROBE)
            self.lag = max(0.0, loop.time() - expected)

    @contextlib.contextmanager
    def slot(self):
        """Hold a place while one message is stored; Busy when there is none."""
        self._ensure_probe()
        if self.inflight >= MAX_INFLIGHT or self.lag > MAX_LAG or self._delivery_late():
            raise Busy(_("El chat está saturado: tu mensaje se reenviará en unos segundos."))
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1


admission = Admission()


# --- the consumer's side ----------------------------------------------------------------------


class HotSender:
    """Per socket: the grant snapshot, and `post()` for its message.send frames."""

    def __init__(self, consumer) -> None:
        self.consumer = consumer
        self.snapshot: Snapshot | None = None

    async def _refresh(self) -> bool:
        """A new snapshot from the full check; False (socket closed 4401/4403) if the grant ended."""
        code, self.snapshot = await run(take_snapshot, self.consumer.sockauth_grant)
        if code is not None:
            await self.consumer._sockauth_end(code)
            return False
        return True

    async def post(self, frame: dict) -> Stored | None:
        """Store one message frame; None when the socket was closed because its grant ended."""
        consumer = self.consumer
        if consumer.sockauth_ended or consumer.sockauth_grant is None:
            return None
        with admission.slot():
            if self.snapshot is None and not await self._refresh():
                return None
            conversation = consumer.conversation
            viewers = sorted({conversation.franchisee_id, conversation.agent_id} - {None, consumer.user.pk})
            args = (consumer.user, conversation.pk, frame.get("body"), frame.get("client_id"), viewers)
            try:
                return await run(store, self.snapshot, *args)
            except GrantChanged:
                if not await self._refresh():
                    return None
            try:
                return await run(store, self.snapshot, *args)
            except GrantChanged:  # changing under us (e.g. the session saved meanwhile): the services' way
                if not await consumer.sockauth_allows_receive():
                    return None
                return await run(_store_classic, *args)


def _store_classic(user: User, conversation_id: int, body, client_id, viewers: list[int]) -> Stored:
    message, created = services.post_message(
        conversation_id=conversation_id, author=user, body=body, client_id=client_id, broadcast=False
    )
    return _frame_of(message, created=created)
