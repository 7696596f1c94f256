"""Who may mark a chat read, close it or resolve it (issue 11): participants' reads only; close
and resolve follow the transfer rule (assigned agent, supervisor, or the franchisee to close)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import save_user
from chat import selectors, services
from chat.models import Conversation, ReadMarker
from support_portal.asgi import application
from tests.conftest import PASSWORD
from tests.servers import session_cookie, ws_headers


@pytest.fixture
def active(franchisee, agent) -> Conversation:
    conversation = services.start_conversation(franchisee=franchisee, topic="El TPV no arranca")
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


@pytest.fixture
def colleague(centro):
    """Another franchisee of the same franchise: may see the conversation, is not in it."""
    return save_user(username="fran_centro_2", role="franchisee", franchise=centro, password=PASSWORD)[0]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- read receipts ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reads_of_non_participants_are_not_stored(active, franchisee, agent, agent2, colleague, supervisor):
    message, _ = services.post_message(conversation_id=active.pk, author=franchisee, body="hola", client_id="r1")
    for outsider in (colleague, agent2, supervisor):
        assert services.mark_read(conversation_id=active.pk, user=outsider, up_to=message.pk) is None
    assert not ReadMarker.objects.filter(conversation=active).exists()
    assert services.mark_read(conversation_id=active.pk, user=agent, up_to=message.pk) == message.pk
    assert selectors.read_markers(active) == {agent.pk: message.pk}


@pytest.mark.django_db
def test_markers_left_by_outsiders_are_not_replayed(active, franchisee, agent2):
    message, _ = services.post_message(conversation_id=active.pk, author=franchisee, body="hola", client_id="r2")
    # a marker an outsider could store before the fix
    ReadMarker.objects.create(conversation=active, user=agent2, last_read_message_id=message.pk)
    assert selectors.read_markers(active) == {}


async def _connect(user, conversation_id):
    cookie = await database_sync_to_async(session_cookie)(user)
    comm = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/", headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    while json.loads(await comm.receive_from(timeout=3))["type"] != "conversation":
        pass
    while not await comm.receive_nothing(timeout=0.1):
        await comm.receive_from()
    return comm


@pytest.mark.django_db(transaction=True)
async def test_a_colleague_reading_over_the_socket_shows_no_double_tick(active, franchisee, colleague):
    message, _ = await database_sync_to_async(services.post_message)(
        conversation_id=active.pk, author=franchisee, body="¿alguien?", client_id="r3"
    )
    owner = await _connect(franchisee, active.pk)
    peeker = await _connect(colleague, active.pk)
    await peeker.send_json_to({"type": "read", "up_to": message.pk})
    assert await owner.receive_nothing(timeout=0.5)  # no `read` frame reaches the participant
    assert await peeker.receive_nothing(timeout=0.1)  # and the colleague gets no error either
    assert not await database_sync_to_async(ReadMarker.objects.filter(conversation=active).exists)()
    await owner.disconnect()
    await peeker.disconnect()


# --- close and resolve ------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_agent_cannot_close_or_resolve_an_active_chat(active, agent2):
    for action in (services.close_conversation, services.resolve_in_chat):
        with pytest.raises(services.Forbidden):
            action(conversation_id=active.pk, actor=agent2)
    active.refresh_from_db()
    assert active.status == Conversation.Status.ACTIVE
    assert not active.resolved_in_chat


@pytest.mark.django_db
def test_the_pages_obey_the_same_rule(active, agent2):
    other = client_for(agent2)
    assert other.post(f"/chat/{active.pk}/close/").status_code == 302
    assert other.post(f"/chat/{active.pk}/resolve/").status_code == 302
    active.refresh_from_db()
    assert active.status == Conversation.Status.ACTIVE
    page = other.get(f"/chat/{active.pk}/").content.decode()
    assert f"/chat/{active.pk}/close/" not in page
    assert f"/chat/{active.pk}/resolve/" not in page


@pytest.mark.django_db
def test_a_colleague_franchisee_cannot_close(active, colleague):
    with pytest.raises(services.Forbidden):
        services.close_conversation(conversation_id=active.pk, actor=colleague)


@pytest.mark.django_db
def test_assignee_and_supervisor_resolve_franchisee_closes(franchisee, agent, supervisor):
    first = services.start_conversation(franchisee=franchisee, topic="Uno")
    services.accept_conversation(conversation_id=first.pk, agent=agent)
    assert services.resolve_in_chat(conversation_id=first.pk, actor=agent).resolved_in_chat
    second = services.start_conversation(franchisee=franchisee, topic="Dos")
    services.accept_conversation(conversation_id=second.pk, agent=agent)
    assert services.resolve_in_chat(conversation_id=second.pk, actor=supervisor).status == "closed"
    third = services.start_conversation(franchisee=franchisee, topic="Tres")
    services.accept_conversation(conversation_id=third.pk, agent=agent)
    assert services.close_conversation(conversation_id=third.pk, actor=franchisee).status == "closed"


@pytest.mark.django_db
def test_a_waiting_chat_is_closed_only_by_its_franchisee_or_a_supervisor(franchisee, agent, supervisor):
    waiting = services.start_conversation(franchisee=franchisee, topic="En cola")
    with pytest.raises(services.Forbidden):
        services.close_conversation(conversation_id=waiting.pk, actor=agent)
    assert services.close_conversation(conversation_id=waiting.pk, actor=supervisor).status == "closed"


# --- unknown socket paths ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/other/", "/ws/chat/1", "/ws/notifications", "/", "/ws/chat/x/"])
@pytest.mark.parametrize("logged_in", [False, True])
async def test_an_unknown_socket_path_closes_4404(path, logged_in, franchisee):
    cookie = await database_sync_to_async(session_cookie)(franchisee) if logged_in else "nope"
    comm = WebsocketCommunicator(application, path, headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    output = await comm.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": 4404, "reason": ""} or (
        output["type"] == "websocket.close" and output["code"] == 4404
    )
