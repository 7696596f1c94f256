"""Opening a socket cheaply without losing a guarantee (issue 13: 10,000 idle sockets per process).

- support_portal.socket_session: the scope keeps the user and the session *key*; the session row's
  data is handed to the consumer's connect once and then forgotten; channels.auth's rules (a
  session whose auth hash no longer matches is flushed and the socket is anonymous).
- accounts.socket_open: the connect's grant check is one query "nothing changed since the session
  was read"; any change sends it to the full verdict, which closes the socket (4401/4403) as
  before, also when the change lands between the session read and the check.
- support_portal.asgi: every socket's task shares one cache client (no cache backend, Redis
  pool and Redis connection per socket).
- chat.consumers: the replay reads history page by page (plain queries) and keeps only a small
  record of its conversation; chat.presence.enter_many counts like enter(); a socket's groups are
  joined in one pipelined round trip (chat.layer_guard.LayerGuard.join_many, on
  support_portal.channel_layer.PortalRedisChannelLayer.group_add_many).
"""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache, caches

from accounts import socket_open
from accounts.models import User
from chat import consumers, layer_guard, presence, services
from chat.models import Message
from support_portal import socket_session
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


@pytest.fixture
def active(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="La caja no cuadra")
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


async def frames_until_status(comm: WebsocketCommunicator) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await comm.receive_from(timeout=3))
        frames.append(frame)
        if frame["type"] == "conversation":
            return frames


async def close_code(comm: WebsocketCommunicator) -> int:
    while True:
        output = await comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            return output["code"]


# --- the scope: the user and the session key ---------------------------------------------------


def test_the_session_key_comes_from_the_cookie_header():
    scope = {"headers": [(b"host", b"x"), (b"cookie", b"csrftoken=a; sessionid=abc123; other=1")]}
    assert socket_session.session_key_of(scope) == "abc123"
    assert socket_session.session_key_of({"headers": [(b"cookie", b"csrftoken=a")]}) is None
    assert socket_session.session_key_of({"headers": []}) is None


def test_the_user_and_the_session_row_are_read_together(franchisee):
    cookie = session_cookie(franchisee)
    user, data = socket_session.user_of(cookie)
    assert user.pk == franchisee.pk and data  # the session row's data, for the connect's check
    assert socket_session.user_of("no-such-session-key")[0].is_anonymous
    assert socket_session.user_of(None) == (socket_session.AnonymousUser(), None)


def test_a_session_of_a_changed_password_is_flushed_and_anonymous(franchisee):
    from django.contrib.sessions.models import Session

    cookie = session_cookie(franchisee)
    User.objects.filter(pk=franchisee.pk).update(password="changed elsewhere")  # no signal: the hash differs
    user, data = socket_session.user_of(cookie)
    assert user.is_anonymous and data is None
    assert not Session.objects.filter(session_key=cookie).exists()  # as channels.auth.get_user does


def test_the_session_data_is_taken_once():
    session = socket_session.SocketSession("key", "data")
    assert session.take_data() == "data"
    assert session.take_data() is None
    assert session.session_key == "key"
    assert "key" not in repr(session)


async def test_a_connected_socket_keeps_no_session_store_nor_its_data(franchisee):
    cookie = await db(session_cookie)(franchisee)
    seen = {}
    real_prepare = socket_open.prepare

    def spy(consumer):
        seen["consumer"] = consumer
        return real_prepare(consumer)

    with mock.patch.object(socket_open, "prepare", spy):
        comm = WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))
        assert (await comm.connect())[0]
        assert await comm.receive_nothing(timeout=0.1)
    scope = seen["consumer"].scope
    assert isinstance(scope["session"], socket_session.SocketSession)
    assert scope["session"].session_key == cookie
    assert scope["session"].take_data() is None  # the connect took it
    assert "cookies" not in scope
    assert scope["user"].pk == franchisee.pk
    await comm.disconnect()


# --- the grant check at connect -------------------------------------------------------------------


def opening_for(user: User, cookie: str) -> socket_open.Opening:
    from accounts.socket_auth import Grant

    fresh, data = socket_session.user_of(cookie)
    grant = Grant(fresh.pk, cookie, fresh.role, fresh.franchise_id)
    return socket_open.Opening(grant, fresh.password, fresh.session_epoch, data)


def test_nothing_changed_is_one_query(franchisee, django_assert_num_queries):
    opening = opening_for(franchisee, session_cookie(franchisee))
    with django_assert_num_queries(1):
        assert socket_open.unchanged(opening)
    checked = socket_open.check(opening)
    assert checked.code is None and checked.unchanged and checked.stamp


@pytest.mark.parametrize(
    "change",
    [
        {"role": User.Role.AGENT, "franchise": None},
        {"is_active": False},
        {"password": "other"},
        {"session_epoch": 7},
    ],
)
def test_a_change_of_the_user_row_goes_to_the_full_verdict(franchisee, change):
    opening = opening_for(franchisee, session_cookie(franchisee))
    User.objects.filter(pk=franchisee.pk).update(**change)  # no signal: only the database knows
    assert not socket_open.unchanged(opening)
    checked = socket_open.check(opening)
    assert checked.code in (4401, 4403) and not checked.unchanged


def test_a_saved_session_is_checked_in_full_and_still_holds(franchisee):
    from django.contrib.sessions.backends.db import SessionStore

    cookie = session_cookie(franchisee)
    opening = opening_for(franchisee, cookie)
    store = SessionStore(session_key=cookie)
    store["seen_page"] = "/tickets/"  # a page saved its session meanwhile: still the same login
    store.save()
    assert not socket_open.unchanged(opening)
    checked = socket_open.check(opening)
    assert checked.code is None and not checked.unchanged


async def test_a_logout_between_the_session_read_and_the_check_closes_the_socket(active, franchisee):
    from django.contrib.sessions.models import Session

    cookie = await db(session_cookie)(franchisee)
    real_check = socket_open.check

    def logout_first(opening):  # the user logs out after the middleware read the session
        Session.objects.filter(session_key=cookie).delete()
        return real_check(opening)

    with mock.patch.object(socket_open, "check", logout_first):
        comm = WebsocketCommunicator(application, f"/ws/chat/{active.pk}/", headers=ws_headers(cookie))
        assert (await comm.connect())[0]
        assert await close_code(comm) == 4401
    assert not await db(presence.is_viewing)(active.pk, franchisee.pk)  # never counted as viewing


async def test_a_role_change_between_the_session_read_and_the_check_closes_the_bell_4403(agent):
    cookie = await db(session_cookie)(agent)
    real_check = socket_open.check

    def demote_first(opening):
        User.objects.filter(pk=agent.pk).update(role=User.Role.SUPERVISOR)
        return real_check(opening)

    with mock.patch.object(socket_open, "check", demote_first):
        comm = WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))
        assert (await comm.connect())[0]
        assert await close_code(comm) == 4403
    assert not await db(presence.online_agent_ids)([agent.pk])  # never counted online


async def test_an_opened_chat_socket_posts_with_the_connects_snapshot(active, franchisee, agent):
    from chat import hot_path

    cookie = await db(session_cookie)(franchisee)
    comm = WebsocketCommunicator(application, f"/ws/chat/{active.pk}/", headers=ws_headers(cookie))
    assert (await comm.connect())[0]
    await frames_until_status(comm)
    with mock.patch.object(hot_path, "take_snapshot", wraps=hot_path.take_snapshot) as full_check:
        await comm.send_to(text_data=json.dumps({"type": "message.send", "client_id": "c1", "body": "Hola"}))
        while (frame := json.loads(await comm.receive_from(timeout=3)))["type"] != "message":
            pass
    assert frame["client_id"] == "c1"
    if await db(hot_path.enabled)():  # PostgreSQL: the statement used the snapshot taken at connect
        assert full_check.call_count == 0
    await comm.disconnect()


# --- what a socket holds ------------------------------------------------------------------------------


async def test_sockets_share_one_cache_client():
    async def cache_in_a_task():
        return await sync_to_async(lambda: id(caches["default"]), thread_sensitive=False)()

    ids = await asyncio.gather(*(asyncio.ensure_future(cache_in_a_task()) for _ in range(3)))
    assert len(set(ids)) == 1 and ids[0] == id(caches["default"])


def test_a_held_conversation_keeps_only_its_columns(active):
    held = consumers.HeldConversation(active)
    assert (held.pk, held.id, held.status, held.franchisee_id, held.agent_id) == (
        active.pk,
        active.pk,
        "active",
        active.franchisee_id,
        active.agent_id,
    )
    assert not hasattr(held, "__dict__")


def test_the_replay_reads_history_in_pages(active, franchisee, django_assert_num_queries):
    for i in range(5):
        services.post_message(conversation_id=active.pk, author=franchisee, body=f"m{i}", client_id=f"c{i}")
    ids = list(Message.objects.filter(conversation=active).order_by("id").values_list("id", flat=True))
    with mock.patch.object(consumers, "REPLAY_PAGE", 2), django_assert_num_queries(len(ids) // 2 + 1):
        frames = consumers._replay_frames(active.pk, 0)
    assert [f["id"] for f in frames] == ids
    assert [f["id"] for f in consumers._replay_frames(active.pk, ids[1])] == ids[2:]


async def test_the_replay_of_a_long_conversation_arrives_whole_and_in_order(active, franchisee):
    def post_many():
        for i in range(7):
            services.post_message(conversation_id=active.pk, author=franchisee, body=f"m{i}", client_id=f"c{i}")

    await db(post_many)()
    cookie = await db(session_cookie)(franchisee)
    with mock.patch.object(consumers, "REPLAY_PAGE", 3):
        comm = WebsocketCommunicator(application, f"/ws/chat/{active.pk}/?after=0", headers=ws_headers(cookie))
        assert (await comm.connect())[0]
        frames = await frames_until_status(comm)
    bodies = [f["body"] for f in frames if f["type"] == "message" and f.get("client_id")]
    assert bodies == [f"m{i}" for i in range(7)]
    await comm.disconnect()


def test_enter_many_counts_like_enter(agent):
    keys = [presence.viewer_key(1, agent.pk), presence.agent_key(agent.pk)]
    with mock.patch.object(presence, "_transition") as transition:
        presence.enter_many(keys)
        presence.enter_many(keys)
    assert transition.call_count == 2  # once per key: its first socket
    assert cache.get(keys[0]) == 2 and cache.get(keys[1]) == 2
    assert agent.pk in presence.online_agent_ids([agent.pk])
    for key in keys:
        presence.leave(key)
        presence.leave(key)
    assert not presence.online_agent_ids([agent.pk])


# --- the groups of a socket, joined in one round trip -------------------------------------------------


class _Guarded(layer_guard.LayerGuard):
    """A LayerGuard on a real channels-redis layer, without a socket."""

    def __init__(self, layer) -> None:
        self.channel_layer = layer
        self.degraded = 0

    async def on_layer_down(self) -> None:
        self.degraded += 1


async def test_join_many_puts_the_channel_in_every_group_in_one_round_trip(redis_url):
    from support_portal.channel_layer import PortalRedisChannelLayer

    layer = PortalRedisChannelLayer(hosts=[redis_url])
    guard = _Guarded(layer)
    guard.channel_name = await layer.new_channel()
    with mock.patch("redis.asyncio.client.Redis.execute_command") as single_commands:
        assert await guard.join_many(["test.join.a", "test.join.b"]) == [True, True]
    assert single_commands.call_count == 0  # ZADD + EXPIRE of both groups went in one pipeline
    for group in ("test.join.a", "test.join.b"):
        await layer.group_send(group, {"type": "push.frame", "group": group})
        assert (await asyncio.wait_for(layer.receive(guard.channel_name), 5))["group"] == group
        ttl = await layer.connection(layer.consistent_hash(group)).ttl(layer._group_key(group))
        assert 0 < ttl <= layer.group_expiry
    await layer.flush()
    await layer.close_pools()


async def test_join_many_on_an_unreachable_layer_degrades_the_socket():
    from support_portal.channel_layer import PortalRedisChannelLayer

    layer = PortalRedisChannelLayer(hosts=[{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.2}])
    guard = _Guarded(layer)
    guard.channel_name = await layer.new_channel()
    assert await guard.join_many(["test.join.a", "test.join.b"]) == [False, False]
    assert guard.layer_down and guard.degraded == 1
    guard.probe_task.cancel()


async def test_join_many_on_another_layer_joins_each_group():
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    guard = _Guarded(layer)
    guard.channel_name = await layer.new_channel()
    assert await guard.join_many(["test.join.a", "test.join.b"]) == [True, True]
    await layer.group_send("test.join.b", {"type": "push.frame"})
    assert (await asyncio.wait_for(layer.receive(guard.channel_name), 2))["type"] == "push.frame"


def test_daphne_connections_read_autobahn_options_from_the_factory():
    """support_portal.asgi under Daphne: autobahn's 29 options are not copied onto each connection."""
    from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
    from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

    from support_portal import asgi

    asgi._protocol_options_from_the_factory()
    factory = WebSocketFactory(None)
    factory.setProtocolOptions(autoPingTimeout=7, allowNullOrigin=True, openHandshakeTimeout=3)
    connection = factory.buildProtocol(None)
    AutobahnProtocol._connectionMade(connection)  # where autobahn copies what the protocol lacks
    assert (connection.autoPingTimeout, connection.allowNullOrigin, connection.openHandshakeTimeout) == (7, True, 3)
    assert not [name for name in WebSocketProtocol.CONFIG_ATTRS if name in connection.__dict__]
    connection.autoPingInterval = 99  # one connection's own setting stays its own
    assert connection.autoPingInterval == 99 and factory.autoPingInterval != 99
    assert factory.buildProtocol(None).autoPingInterval == factory.autoPingInterval
