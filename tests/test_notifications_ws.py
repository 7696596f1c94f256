"""/ws/notifications/ through the real ASGI stack (origin check, session auth, routing)."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from notifications import kinds
from notifications.services import notify, push_to_agents
from support_portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_ORIGIN = b"http://127.0.0.1:8000"


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def connect(user=None, origin: bytes | None = GOOD_ORIGIN) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", await session_cookie(user)))
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@database_sync_to_async
def send(recipient, **kwargs):
    return notify(recipient=recipient, kind=kwargs.pop("kind", kinds.TICKET_STATUS), **kwargs)


async def test_the_recipient_receives_the_frame_and_nobody_else(franchisee, other_franchisee):
    mine = await connect(franchisee)
    theirs = await connect(other_franchisee)
    notification = await send(franchisee, title="Tu ticket #7 está resuelto", body="Cerrado", url="/tickets/7/")
    frame = await mine.receive_json_from(timeout=2)
    assert frame == {
        "type": "notification",
        "id": notification.pk,
        "kind": "ticket_status",
        "title": "Tu ticket #7 está resuelto",
        "body": "Cerrado",
        "url": "/tickets/7/",
        "created": notification.created_at.isoformat(),
        "unread": 1,
    }
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


async def test_every_tab_of_the_user_gets_the_frame_with_the_running_count(franchisee):
    tab1, tab2 = await connect(franchisee), await connect(franchisee)
    await send(franchisee, title="uno")
    await send(franchisee, title="dos")
    for tab in (tab1, tab2):
        assert [(await tab.receive_json_from(timeout=2))["unread"] for _ in range(2)] == [1, 2]
        await tab.disconnect()


async def test_anonymous_is_closed_with_4401():
    communicator = await connect(user=None)
    assert await communicator.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("origin", [b"https://evil.example", b"http://127.0.0.1.evil.example:8000", None])
async def test_a_foreign_or_missing_origin_is_closed_with_4403(franchisee, origin):
    communicator = await connect(franchisee, origin=origin)
    assert await communicator.receive_output(timeout=1) == {"type": "websocket.close", "code": 4403}
    # and it never joined the user's group
    await send(franchisee, title="secreto")
    assert await communicator.receive_nothing(timeout=0.2)


async def test_agents_get_queue_frames_and_franchisees_do_not(agent, supervisor, franchisee):
    agent_socket, supervisor_socket = await connect(agent), await connect(supervisor)
    franchisee_socket = await connect(franchisee)
    frame = {"type": "queue", "waiting": 2, "conversations": [{"id": 5, "topic": "TPV"}]}
    await database_sync_to_async(push_to_agents)(frame)
    assert await agent_socket.receive_json_from(timeout=2) == frame
    # a supervisor's socket also carries the agents' board (docs/CHAT.md): their own coming online
    received = [await supervisor_socket.receive_json_from(timeout=2)]
    while received[-1]["type"] == "agent_status":
        received.append(await supervisor_socket.receive_json_from(timeout=2))
    assert received[-1] == frame
    assert {(f["agent"]["id"], f["online"]) for f in received[:-1]} <= {(supervisor.pk, True)}
    assert await franchisee_socket.receive_nothing(timeout=0.3)
    for socket in (agent_socket, supervisor_socket, franchisee_socket):
        await socket.disconnect()


async def test_client_frames_get_invalid_and_the_socket_stays_open(franchisee):
    communicator = await connect(franchisee)
    await communicator.send_to(text_data="not json {")
    assert (await communicator.receive_json_from(timeout=2))["code"] == "invalid"
    await communicator.send_json_to({"type": "mark_all_read"})
    assert (await communicator.receive_json_from(timeout=2))["code"] == "invalid"
    await send(franchisee, title="sigue vivo")
    assert (await communicator.receive_json_from(timeout=2))["title"] == "sigue vivo"
    await communicator.disconnect()


async def test_a_closed_socket_leaves_its_groups(franchisee):
    communicator = await connect(franchisee)
    await communicator.disconnect()
    await asyncio.sleep(0)
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):  # the Redis layer keeps its groups server-side
        assert not layer.groups.get(f"notifications.user.{franchisee.pk}")


async def test_an_agent_with_the_portal_open_counts_as_online_for_chat(agent, franchisee):
    from chat import presence

    online = database_sync_to_async(presence.online_agent_ids)
    assert await online([agent.pk, franchisee.pk]) == set()
    agent_socket = await connect(agent)
    franchisee_socket = await connect(franchisee)
    assert await online([agent.pk, franchisee.pk]) == {agent.pk}
    await agent_socket.disconnect()
    await franchisee_socket.disconnect()
    assert await online([agent.pk]) == set()
