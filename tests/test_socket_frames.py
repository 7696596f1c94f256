"""Malformed input never kills a socket (issue 11): an `error` frame, and the socket stays open.

Both endpoints through the full ASGI stack: a lone UTF-16 surrogate (half an emoji, valid JSON
`"\\ud800"` but not text) used to close the chat socket with 1011 (UnicodeEncodeError when
storing it), JSON nested deeper than the parser's recursion limit with 1011 (RecursionError).
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import services
from chat.frames import MAX_FRAME_CHARS, FrameError, parse_frame
from chat.models import Message
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers
from tests.test_chat_consumer import connect, drain, frames_until, send

pytestmark = pytest.mark.django_db(transaction=True)

SURROGATE_BODY = '{"type": "message.send", "client_id": "half-emoji", "body": "x\\ud800y"}'
SURROGATE_ID = '{"type": "message.send", "client_id": "\\udfff", "body": "hola"}'
SURROGATE_TYPE = '{"type": "typing\\ud83d"}'
DEEP_LIST = "[" * 15_000 + "]" * 15_000
DEEP_OBJECT = '{"type": "message.send", "client_id": "deep", "body": ' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}"
BAD_FRAMES = [SURROGATE_BODY, SURROGATE_ID, SURROGATE_TYPE, DEEP_LIST, DEEP_OBJECT]


@pytest.fixture
def active(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="Tramas raras")
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


@pytest.mark.parametrize(
    "raw", BAD_FRAMES, ids=["surrogate-body", "surrogate-id", "surrogate-type", "deep-list", "deep-object"]
)
def test_parse_frame_refuses_without_raising_anything_else(raw):
    assert len(raw) <= MAX_FRAME_CHARS
    with pytest.raises(FrameError) as refused:
        parse_frame(raw)
    assert refused.value.code == "invalid"


def test_a_whole_emoji_is_fine():
    frame = parse_frame('{"type": "message.send", "client_id": "e", "body": "ok \\ud83d\\ude00"}')
    assert frame["body"] == "ok 😀"


@pytest.mark.parametrize(
    "raw", BAD_FRAMES, ids=["surrogate-body", "surrogate-id", "surrogate-type", "deep-list", "deep-object"]
)
async def test_chat_socket_answers_invalid_and_stays_open(active, franchisee, raw):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await comm.send_to(text_data=raw)
    output = await comm.receive_output(timeout=5)
    assert output["type"] == "websocket.send", output  # not a close (1011)
    frame = json.loads(output["text"])
    assert (frame["type"], frame["code"]) == ("error", "invalid")
    assert not await database_sync_to_async(Message.objects.filter(kind="user").exists)()
    await send(comm, "sigo aquí 😀", "after-bad-frame")
    assert (await frames_until(comm, "message"))[-1]["body"] == "sigo aquí 😀"
    await comm.disconnect()


async def test_chat_frames_over_the_parse_limit_get_too_long(active, franchisee):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    await comm.send_to(text_data="[" * (MAX_FRAME_CHARS + 1))
    frame = json.loads(await comm.receive_from())
    assert frame["code"] == "too_long"
    await send(comm, "todavía abierto", "after-too-long")
    assert (await frames_until(comm, "message"))[-1]["client_id"] == "after-too-long"
    await comm.disconnect()


def test_the_service_refuses_a_lone_surrogate_too(active, franchisee):
    with pytest.raises(services.Invalid):
        services.post_message(conversation_id=active.pk, author=franchisee, body="x\ud800", client_id="s")
    assert not Message.objects.filter(client_id="s").exists()


async def notifications_socket(user) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie)(user)
    comm = WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        *[(raw, "invalid") for raw in BAD_FRAMES],
        ("not json", "invalid"),
        ('{"type": "hello"}', "invalid"),
        ("x" * (MAX_FRAME_CHARS + 1), "too_long"),
    ],
)
async def test_notifications_socket_answers_every_client_frame_and_stays_open(agent, raw, code):
    comm = await notifications_socket(agent)
    await comm.send_to(text_data=raw)
    frame = json.loads(await comm.receive_from(timeout=5))
    assert (frame["type"], frame["code"]) == ("error", code)
    await comm.send_to(bytes_data=b"\x00")
    assert json.loads(await comm.receive_from())["code"] == "invalid"
    await comm.disconnect()
