"""Sockets live only as long as the right to use them (issue 11, accounts.socket_auth): logout,
deactivation, a role change, a move to another franchise, a password change and "log out
everywhere else" close the user's open chat and notifications sockets (4401 / 4403), and nothing
is stored or pushed to them afterwards. In-process, over the real ASGI stack; the same across two
Daphne processes on Redis is tests/test_socket_lifetime_crossprocess.py."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import User
from chat import services
from chat.models import Message
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


@pytest.fixture
def active(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="La caja no cuadra")
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


async def open_chat(cookie: str, conversation_id: int) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/", headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    while json.loads(await comm.receive_from(timeout=3))["type"] != "conversation":
        pass
    while not await comm.receive_nothing(timeout=0.1):
        await comm.receive_from()
    return comm


async def open_bell(cookie: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_nothing(timeout=0.1)  # open, quiet
    return comm


async def closed_with(comm: WebsocketCommunicator, timeout: float = 3) -> tuple[int, list[dict]]:
    """The close code, and every frame that arrived before it."""
    frames = []
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"], frames
        frames.append(json.loads(output["text"]))


def http_client(cookie: str) -> Client:
    client = Client()
    client.cookies["sessionid"] = cookie
    return client


async def test_logout_closes_that_sessions_sockets_4401(active, franchisee, agent):
    cookie = await db(session_cookie)(franchisee)
    chat, bell = await open_chat(cookie, active.pk), await open_bell(cookie)
    other_device = await open_bell(await db(session_cookie)(franchisee))
    response = await db(lambda: http_client(cookie).post("/accounts/logout/"))()
    assert response.status_code == 302
    assert (await closed_with(chat))[0] == 4401
    assert (await closed_with(bell))[0] == 4401
    assert await other_device.receive_nothing(timeout=0.3)  # another session of the same user stays
    await other_device.disconnect()


async def test_deactivation_closes_every_socket_4401(active, franchisee):
    cookie = await db(session_cookie)(franchisee)
    chat, bell = await open_chat(cookie, active.pk), await open_bell(cookie)

    def deactivate():
        franchisee.is_active = False
        franchisee.save()

    await db(deactivate)()
    assert (await closed_with(chat))[0] == 4401
    assert (await closed_with(bell))[0] == 4401


async def test_an_agent_demoted_gets_4403_and_no_more_queue_frames(active, agent, centro, franchisee):
    cookie = await db(session_cookie)(agent)
    chat, bell = await open_chat(cookie, active.pk), await open_bell(cookie)

    def demote():
        agent.role, agent.franchise = User.Role.FRANCHISEE, centro
        agent.save()
        services.start_conversation(franchisee=franchisee, topic="Nueva en cola")  # a `queue` frame to agents

    await db(demote)()
    code, frames = await closed_with(bell)
    assert code == 4403
    assert not [f for f in frames if f["type"] == "queue"]
    assert (await closed_with(chat))[0] == 4403


async def test_the_push_guard_holds_when_the_recheck_message_is_lost(agent, franchisee):
    """Even if the layer dropped `sockauth.recheck`, the stamp makes the next push check first."""
    bell = await open_bell(await db(session_cookie)(agent))

    def demote_then_queue():
        with mock.patch("accounts.socket_auth._send_recheck"):
            User.objects.filter(pk=agent.pk).update(is_active=False)  # no signal at all
            from accounts.socket_auth import revoke

            revoke(agent.pk)
        services.start_conversation(franchisee=franchisee, topic="Otra en cola")

    await db(demote_then_queue)()
    code, frames = await closed_with(bell)
    assert code == 4401
    assert frames == []


async def test_a_move_to_another_franchise_closes_4403(active, franchisee, norte):
    cookie = await db(session_cookie)(franchisee)
    chat, bell = await open_chat(cookie, active.pk), await open_bell(cookie)

    def move():
        franchisee.franchise = norte
        franchisee.save()

    await db(move)()
    assert (await closed_with(chat))[0] == 4403
    assert (await closed_with(bell))[0] == 4403


async def test_a_message_sent_after_the_change_is_not_stored(active, franchisee, norte):
    """The receive guard reads the committed state: even a change that bypassed every signal."""
    chat = await open_chat(await db(session_cookie)(franchisee), active.pk)
    await db(lambda: User.objects.filter(pk=franchisee.pk).update(franchise=norte))()
    await chat.send_json_to({"type": "message.send", "client_id": "late-1", "body": "¿sigo aquí?"})
    code, frames = await closed_with(chat)
    assert code == 4403
    assert not [f for f in frames if f["type"] == "message"]
    assert not await db(Message.objects.filter(client_id="late-1").exists)()


async def test_a_password_change_ends_the_other_sessions_sockets(active, franchisee):
    elsewhere = await open_chat(await db(session_cookie)(franchisee), active.pk)

    def change_password():
        franchisee.set_password("otra-Clave-987")
        franchisee.save()

    await db(change_password)()
    assert (await closed_with(elsewhere))[0] == 4401


async def test_log_out_everywhere_else_keeps_this_session(active, franchisee):
    here_cookie = await db(session_cookie)(franchisee)
    there_cookie = await db(session_cookie)(franchisee)
    here, there = await open_bell(here_cookie), await open_chat(there_cookie, active.pk)
    here_client = http_client(here_cookie)
    response = await db(lambda: here_client.post("/accounts/profile/sessions/end-others/"))()
    assert response.status_code == 302
    assert (await closed_with(there))[0] == 4401
    assert await here.receive_nothing(timeout=0.3)  # this device's socket stays open
    assert (await db(lambda: here_client.get("/accounts/profile/"))()).status_code == 200
    gone = await db(lambda: http_client(there_cookie).get("/accounts/profile/"))()
    assert gone.status_code == 302 and "/accounts/login/" in gone["Location"]
    await here.disconnect()


async def test_a_socket_opened_with_an_ended_session_is_refused(franchisee):
    cookie = await db(session_cookie)(franchisee)
    await db(lambda: http_client(cookie).post("/accounts/logout/"))()
    comm = WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    assert (await closed_with(comm))[0] == 4401


async def test_unrelated_saves_leave_sockets_open(active, franchisee):
    cookie = await db(session_cookie)(franchisee)
    chat = await open_chat(cookie, active.pk)

    def rename():
        franchisee.first_name = "Paco"
        franchisee.save()

    await db(rename)()
    await chat.send_json_to({"type": "message.send", "client_id": "still-1", "body": "sigo"})
    frame = json.loads(await chat.receive_from(timeout=3))
    assert frame["type"] == "message" and frame["client_id"] == "still-1"
    await chat.disconnect()


async def test_the_password_page_ends_the_other_sessions_and_their_sockets(active, franchisee):
    from tests.conftest import PASSWORD

    here = Client()
    await db(lambda: here.post("/accounts/login/", {"username": franchisee.username, "password": PASSWORD}))()
    there_cookie = await db(session_cookie)(franchisee)
    there = await open_chat(there_cookie, active.pk)
    form = {"old_password": PASSWORD, "new_password1": "Nueva-Clave-2468", "new_password2": "Nueva-Clave-2468"}
    response = await db(lambda: here.post("/accounts/password/", form))()
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert (await closed_with(there))[0] == 4401
    assert (await db(lambda: here.get("/accounts/profile/"))()).status_code == 200  # this session goes on
    gone = await db(lambda: http_client(there_cookie).get("/accounts/profile/"))()
    assert gone.status_code == 302


@pytest.mark.django_db
def test_no_notification_about_the_old_franchise_after_a_move(franchisee, norte):
    """After a move nothing of the old franchise is stored for (or pushed to) the user."""
    from notifications import kinds
    from notifications.services import notify

    conversation = services.start_conversation(franchisee=franchisee, topic="Antes de mudarme")
    franchisee.franchise = norte
    franchisee.save()
    sent = notify(recipient=franchisee, kind=kinds.CHAT_MESSAGE, title="Centro", target=conversation)
    assert sent is None
