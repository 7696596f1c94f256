"""/ws/chat/<id>/ through the real ASGI stack (origin check, session auth, routing)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import presence, services
from chat.models import Conversation, Message, ReadMarker
from notifications.models import Notification
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(franchisee) -> Conversation:
    return services.start_conversation(franchisee=franchisee, topic="El datáfono no conecta")


@pytest.fixture
def active(conversation, agent) -> Conversation:
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


async def connect(user, conversation_id, *, after=None, origin="http://127.0.0.1"):
    cookie = await database_sync_to_async(session_cookie)(user) if user else "nope"
    path = f"/ws/chat/{conversation_id}/" + (f"?after={after}" if after is not None else "")
    comm = WebsocketCommunicator(application, path, headers=ws_headers(cookie, origin))
    connected, _ = await comm.connect()
    assert connected
    return comm


async def frames_until(comm, kind: str, timeout=2) -> list[dict]:
    """Every frame up to and including the first of type `kind`."""
    seen = []
    while True:
        frame = json.loads(await comm.receive_from(timeout=timeout))
        seen.append(frame)
        if frame["type"] == kind:
            return seen


async def drain(comm) -> list[dict]:
    """The replay: messages, then the conversation frame, then read markers."""
    frames = await frames_until(comm, "conversation")
    while not await comm.receive_nothing(timeout=0.1):
        frames.append(json.loads(await comm.receive_from()))
    return frames


async def send(comm, body="hola", client_id="c-1"):
    await comm.send_json_to({"type": "message.send", "client_id": client_id, "body": body})


async def closed_with(comm) -> int:
    output = await comm.receive_output(timeout=2)
    assert output["type"] == "websocket.close"
    return output["code"]


# --- close codes ------------------------------------------------------------------------------


async def test_anonymous_is_closed_4401(conversation):
    comm = WebsocketCommunicator(application, f"/ws/chat/{conversation.pk}/", headers=ws_headers("missing"))
    connected, _ = await comm.connect()
    assert connected
    assert await closed_with(comm) == 4401


async def test_foreign_origin_is_closed_4403(conversation, franchisee):
    comm = await connect(franchisee, conversation.pk, origin="http://evil.example")
    assert await closed_with(comm) == 4403


async def test_unknown_conversation_is_closed_4404(franchisee):
    comm = await connect(franchisee, 999_999)
    assert await closed_with(comm) == 4404


async def test_other_franchise_gets_4404_like_an_unknown_id(conversation, other_franchisee):
    comm = await connect(other_franchisee, conversation.pk)
    assert await closed_with(comm) == 4404


async def test_agents_reach_any_franchise(conversation, agent):
    comm = await connect(agent, conversation.pk)
    frames = await drain(comm)
    assert frames[-1]["type"] == "conversation"
    assert frames[-1]["status"] == "waiting"
    await comm.disconnect()


# --- replay and resume -----------------------------------------------------------------------


async def test_history_replay_then_status_then_read_markers(active, franchisee, agent):
    first, _ = await database_sync_to_async(services.post_message)(
        conversation_id=active.pk, author=franchisee, body="uno", client_id="a"
    )
    await database_sync_to_async(services.mark_read)(conversation_id=active.pk, user=agent, up_to=first.pk)
    comm = await connect(franchisee, active.pk)
    frames = await drain(comm)
    kinds = [f["type"] for f in frames]
    assert kinds == ["message", "message", "message", "conversation", "read"]
    ids = [f["id"] for f in frames if f["type"] == "message"]
    assert ids == sorted(ids)
    assert frames[2]["body"] == "uno"
    assert frames[2]["author"] == {"id": franchisee.pk, "name": franchisee.display_name, "role": "franchisee"}
    assert frames[2]["client_id"] == "a"
    assert frames[0]["author"] is None  # system message: chat started
    assert frames[3] == {
        "type": "conversation",
        "status": "active",
        "agent": {"id": agent.pk, "name": agent.display_name, "role": "agent"},
        "ticket": None,
        "resolved_in_chat": False,
    }
    assert frames[4] == {"type": "read", "user": agent.pk, "up_to": first.pk}
    await comm.disconnect()


async def test_resume_with_after_sends_only_newer_messages(active, franchisee):
    messages = []
    for n in range(3):
        message, _ = await database_sync_to_async(services.post_message)(
            conversation_id=active.pk, author=franchisee, body=f"m{n}", client_id=f"m{n}"
        )
        messages.append(message)
    comm = await connect(franchisee, active.pk, after=messages[0].pk)
    frames = await drain(comm)
    assert [f["body"] for f in frames if f["type"] == "message"] == ["m1", "m2"]
    await comm.disconnect()


# --- live frames ------------------------------------------------------------------------------


async def test_message_is_stored_before_it_is_broadcast_to_both_sides(active, franchisee, agent):
    fran = await connect(franchisee, active.pk)
    ag = await connect(agent, active.pk)
    await drain(fran)
    await drain(ag)
    await send(fran, "¿me oyes?", "k1")
    for comm in (fran, ag):
        frame = (await frames_until(comm, "message"))[-1]
        assert frame["body"] == "¿me oyes?"
        assert frame["client_id"] == "k1"
        assert frame["conversation"] == active.pk
        stored = await database_sync_to_async(Message.objects.filter(pk=frame["id"]).exists)()
        assert stored
    await send(ag, "sí, te leo", "k2")
    frame = (await frames_until(fran, "message"))[-1]
    assert frame["body"] == "sí, te leo"
    assert frame["author"]["role"] == "agent"
    await fran.disconnect()
    await ag.disconnect()


async def test_retry_with_same_client_id_answers_the_original_and_stores_nothing(active, franchisee, agent):
    fran = await connect(franchisee, active.pk)
    ag = await connect(agent, active.pk)
    await drain(fran)
    await drain(ag)
    await send(fran, "una vez", "same")
    original = (await frames_until(fran, "message"))[-1]
    await frames_until(ag, "message")
    await send(fran, "una vez", "same")
    retry = (await frames_until(fran, "message"))[-1]
    assert retry["id"] == original["id"]
    assert await ag.receive_nothing(timeout=0.3)  # the other side sees it once
    count = await database_sync_to_async(Message.objects.filter(client_id="same").count)()
    assert count == 1
    await fran.disconnect()
    await ag.disconnect()


async def test_retry_after_reconnect_is_not_duplicated(active, franchisee):
    comm = await connect(franchisee, active.pk)
    replay = await drain(comm)
    last = max(f["id"] for f in replay if f["type"] == "message")
    await send(comm, "antes del corte", "r1")
    first = (await frames_until(comm, "message"))[-1]
    await comm.disconnect()
    again = await connect(franchisee, active.pk, after=last)
    frames = await drain(again)
    assert [f["id"] for f in frames if f["type"] == "message"] == [first["id"]]
    await send(again, "antes del corte", "r1")
    retry = (await frames_until(again, "message"))[-1]
    assert retry["id"] == first["id"]
    assert await database_sync_to_async(Message.objects.filter(client_id="r1").count)() == 1
    await again.disconnect()


async def test_typing_reaches_the_other_side_only(active, franchisee, agent):
    fran = await connect(franchisee, active.pk)
    ag = await connect(agent, active.pk)
    await drain(fran)
    await drain(ag)
    await fran.send_json_to({"type": "typing"})
    frame = json.loads(await ag.receive_from())
    assert frame == {
        "type": "typing",
        "author": {"id": franchisee.pk, "name": franchisee.display_name, "role": "franchisee"},
    }
    assert await fran.receive_nothing(timeout=0.2)
    await fran.disconnect()
    await ag.disconnect()


async def test_read_frame_moves_marker_and_is_broadcast(active, franchisee, agent):
    message, _ = await database_sync_to_async(services.post_message)(
        conversation_id=active.pk, author=franchisee, body="lee esto", client_id="x"
    )
    fran = await connect(franchisee, active.pk)
    ag = await connect(agent, active.pk)
    await drain(fran)
    await drain(ag)
    await ag.send_json_to({"type": "read", "up_to": message.pk + 1000})  # capped at the last message
    for comm in (fran, ag):
        assert json.loads(await comm.receive_from()) == {"type": "read", "user": agent.pk, "up_to": message.pk}
    marker = await database_sync_to_async(ReadMarker.objects.get)(conversation=active, user=agent)
    assert marker.last_read_message_id == message.pk
    await ag.send_json_to({"type": "read", "up_to": message.pk})  # no progress, no frame
    assert await fran.receive_nothing(timeout=0.2)
    await fran.disconnect()
    await ag.disconnect()


async def test_status_frames_follow_accept_transfer_ticket_and_close(conversation, franchisee, agent, agent2):
    fran = await connect(franchisee, conversation.pk)
    await drain(fran)
    await database_sync_to_async(services.accept_conversation)(conversation_id=conversation.pk, agent=agent)
    status = (await frames_until(fran, "conversation"))[-1]
    assert status["status"] == "active"
    assert status["agent"]["id"] == agent.pk
    joined = (await frames_until(fran, "message"))[-1]
    assert joined["author"] is None
    assert agent.display_name in joined["body"]
    await database_sync_to_async(services.transfer_conversation)(
        conversation_id=conversation.pk, actor=agent, to_agent=agent2
    )
    assert (await frames_until(fran, "conversation"))[-1]["agent"]["id"] == agent2.pk
    await database_sync_to_async(services.close_conversation)(conversation_id=conversation.pk, actor=franchisee)
    assert (await frames_until(fran, "conversation"))[-1]["status"] == "closed"
    await fran.disconnect()


# --- error frames keep the socket open ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        json.dumps({"no": "type"}),
        json.dumps({"type": "dance"}),
        json.dumps({"type": "message.send", "body": "sin id"}),
        json.dumps({"type": "message.send", "client_id": "a", "body": 5}),
        json.dumps({"type": "message.send", "client_id": "a", "body": "   "}),
        json.dumps({"type": "message.send", "client_id": "x" * 65, "body": "id largo"}),
        json.dumps({"type": "read", "up_to": "diez"}),
        json.dumps({"type": "message.send", "client_id": "nul", "body": "a\u0000b"}),
    ],
)
async def test_malformed_frames_get_invalid_and_the_socket_stays_open(active, franchisee, raw):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await comm.send_to(text_data=raw)
    frame = json.loads(await comm.receive_from())
    assert frame["type"] == "error"
    assert frame["code"] == "invalid"
    assert frame["detail"]
    await send(comm, "sigo aquí", "after-error")
    assert (await frames_until(comm, "message"))[-1]["body"] == "sigo aquí"
    await comm.disconnect()


async def test_binary_frame_is_invalid(active, franchisee):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await comm.send_to(bytes_data=b"\x00\x01")
    assert json.loads(await comm.receive_from())["code"] == "invalid"
    await comm.disconnect()


async def test_too_long_is_refused_and_not_stored(active, franchisee):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await send(comm, "x" * 4001, "long")
    frame = json.loads(await comm.receive_from())
    assert frame["type"] == "error"
    assert frame["code"] == "too_long"
    assert not await database_sync_to_async(Message.objects.filter(client_id="long").exists)()
    await send(comm, "x" * 4000, "just-fits")
    assert len((await frames_until(comm, "message"))[-1]["body"]) == 4000
    await comm.disconnect()


async def test_flood_is_rate_limited_across_sockets(active, franchisee):
    one = await connect(franchisee, active.pk)
    two = await connect(franchisee, active.pk)
    await drain(one)
    await drain(two)
    for n in range(20):
        await send(one if n % 2 else two, f"m{n}", f"flood-{n}")
        await frames_until(one, "message")
        await frames_until(two, "message")
    await send(one, "uno de más", "flood-20")
    frame = json.loads(await one.receive_from())
    assert frame["type"] == "error"
    assert frame["code"] == "rate_limited"
    assert not await database_sync_to_async(Message.objects.filter(client_id="flood-20").exists)()
    # still open: a retry of an already stored message is answered, not refused
    await send(one, "m1", "flood-1")
    assert (await frames_until(one, "message"))[-1]["client_id"] == "flood-1"
    await one.disconnect()
    await two.disconnect()


async def test_forbidden_for_an_agent_who_has_not_accepted(conversation, agent):
    comm = await connect(agent, conversation.pk)
    await drain(comm)
    await send(comm, "me cuelo", "agent-1")
    frame = json.loads(await comm.receive_from())
    assert (frame["type"], frame["code"]) == ("error", "forbidden")
    await comm.send_json_to({"type": "typing"})
    assert json.loads(await comm.receive_from())["code"] == "forbidden"
    assert not await database_sync_to_async(Message.objects.filter(client_id="agent-1").exists)()
    await comm.disconnect()


async def test_forbidden_once_closed(active, franchisee):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await database_sync_to_async(services.close_conversation)(conversation_id=active.pk, actor=franchisee)
    await frames_until(comm, "conversation")
    await send(comm, "¿hola?", "late")
    assert (await frames_until(comm, "error"))[-1]["code"] == "forbidden"
    await comm.disconnect()


# --- presence and notifications ---------------------------------------------------------------


async def test_presence_while_connected(active, franchisee, agent):
    ag = await connect(agent, active.pk)
    await drain(ag)
    assert await database_sync_to_async(presence.is_viewing)(active.pk, agent.pk)
    assert await database_sync_to_async(presence.online_agent_ids)([agent.pk]) == {agent.pk}
    await ag.disconnect()
    assert not await database_sync_to_async(presence.is_viewing)(active.pk, agent.pk)
    assert await database_sync_to_async(presence.online_agent_ids)([agent.pk]) == set()


async def test_participant_not_viewing_is_notified_once(active, franchisee, agent):
    fran = await connect(franchisee, active.pk)
    await drain(fran)
    await send(fran, "¿sigues ahí?", "n1")
    await frames_until(fran, "message")
    await send(fran, "¿hola?", "n2")
    await frames_until(fran, "message")
    notes = await database_sync_to_async(list)(Notification.objects.filter(recipient=agent, kind="chat_message"))
    assert len(notes) == 1
    assert notes[0].url == f"/chat/{active.pk}/"
    ag = await connect(agent, active.pk)
    await drain(ag)
    await send(ag, "aquí estoy", "n3")
    await frames_until(fran, "message")
    viewing = await database_sync_to_async(
        Notification.objects.filter(recipient=franchisee, kind="chat_message").count
    )()
    assert viewing == 0  # the franchisee is viewing the conversation
    await fran.disconnect()
    await ag.disconnect()
