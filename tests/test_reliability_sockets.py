"""Sockets that never lose a word and never die on bad input, on real servers (issue 11).

- The transport limit: Daphne refuses messages above 1 MiB; the client gets a close frame with
  1009 (message too big), not a dropped TCP connection (1006). Below it, `too_long`.
- A Redis outage in scale-out (two Daphne processes sharing a redis-server this test starts and
  kills): pages answer without 500, open sockets stay open (degraded, told `unavailable`), a
  message sent meanwhile is stored and acknowledged, and once Redis is back the sockets are
  closed with 4012 and the first reconnect resumes with live delivery across processes.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.browser.livestack import HttpSession, LiveStack
from tests.test_reliability_chat import CONVERSATION, require_redis_server

pytestmark = [pytest.mark.slow]

ARTICLE = """
from accounts.models import User
from knowledge_base import services
from knowledge_base.models import Article
agent = User.objects.get(username="agent_a")
result = services.create_article(actor=agent, title="Caja registradora bloqueada", body="Reinicia la caja.",
                                 status=Article.Status.PUBLISHED).slug
"""
STORED = """
from chat.models import Message
result = list(Message.objects.filter(client_id=params["client_id"]).values_list("id", flat=True))
"""


def open_socket(stack: LiveStack, session: HttpSession, path: str, daphne: int = 0) -> ClientConnection:
    headers = {"Cookie": session.cookie_header, "Origin": session.origin}
    return connect(
        stack.ws_url(path, daphne), additional_headers=headers, open_timeout=15, close_timeout=2, legacy=True
    )


def next_frame(ws: ClientConnection, wanted: Callable[[dict], bool], timeout: float = 30.0) -> dict:
    """Read frames until one matches (others are skipped); ConnectionClosed propagates."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching frame in time")
        try:
            frame = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if wanted(frame):
            return frame


def closed_code(ws: ClientConnection, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
    raise AssertionError("socket not closed in time")


def message_send(ws: ClientConnection, client_id: str, body: str) -> None:
    ws.send(json.dumps({"type": "message.send", "client_id": client_id, "body": body}))


def is_message(client_id: str) -> Callable[[dict], bool]:
    return lambda f: f.get("type") == "message" and f.get("client_id") == client_id


def is_error(code: str) -> Callable[[dict], bool]:
    return lambda f: f.get("type") == "error" and f.get("code") == code


@pytest.fixture
def stack_factory(tmp_path):
    stacks: list[LiveStack] = []

    def make(**options) -> LiveStack:
        stack = LiveStack(tmp_path / f"stack{len(stacks)}", **options)
        stacks.append(stack)
        stack.start()
        stack.seed_people()
        return stack

    yield make
    for stack in stacks:
        stack.stop()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_transport_limit_closes_with_1009_and_below_it_too_long(stack_factory):
    stack = stack_factory()
    conversation = stack.run_django(CONVERSATION)
    franchisee = HttpSession(stack.url).login("fran_centro")
    ws = open_socket(stack, franchisee, f"/ws/chat/{conversation}/")
    next_frame(ws, lambda f: f["type"] == "conversation")
    # Between the parse limit and the transport limit: an error frame, the socket stays open.
    big = json.dumps({"type": "message.send", "client_id": "big", "body": "x" * 900_000})
    ws.send(big)
    assert next_frame(ws, lambda f: f["type"] == "error")["code"] == "too_long"
    message_send(ws, "after-big", "sigo aquí")
    next_frame(ws, is_message("after-big"))
    # Above Daphne's 1 MiB: a closing handshake with 1009, not a dropped TCP connection (1006).
    ws.send(json.dumps({"type": "message.send", "client_id": "huge", "body": "x" * 1_100_000}))
    assert closed_code(ws, timeout=30) == 1009
    ws.close()


@pytest.mark.redis
def test_redis_outage_pages_degrade_messages_are_stored_and_sockets_resume_on_first_try(stack_factory):
    require_redis_server()
    stack = stack_factory(redis=True, daphne_count=2)
    conversation = stack.run_django(CONVERSATION)
    slug = stack.run_django(ARTICLE)
    franchisee = HttpSession(stack.url_of(0)).login("fran_centro")
    agent = HttpSession(stack.url_of(1)).login("agent_a")
    chat_path = f"/ws/chat/{conversation}/"
    fran_ws = open_socket(stack, franchisee, chat_path, 0)
    agent_ws = open_socket(stack, agent, chat_path, 1)
    bell = open_socket(stack, agent, "/ws/notifications/", 1)
    for ws in (fran_ws, agent_ws):
        next_frame(ws, lambda f: f["type"] == "conversation")
    message_send(fran_ws, "before", "antes del corte")
    next_frame(agent_ws, is_message("before"))  # live across processes through Redis

    stack.stop_redis()

    # Open sockets are told, and stay open (they used to die with 1011).
    for ws in (fran_ws, agent_ws):
        assert next_frame(ws, lambda f: f["type"] == "error", timeout=30)["code"] == "unavailable"
    # Pages degrade: no 500 (they needed the cache for presence and rate limits).
    for session, path in [
        (franchisee, "/chat/"),
        (franchisee, f"/chat/{conversation}/"),
        (agent, "/chat/"),
        (agent, f"/chat/{conversation}/"),
        (franchisee, "/kb/suggest/?q=caja"),
        (franchisee, "/"),
    ]:
        response = session.get(path)
        assert response.status == 200, (path, response.status, stack.logs()[-2000:])
    assert franchisee.post(f"/kb/{slug}/deflection/").status < 500
    # A message sent meanwhile is stored and acknowledged (or refused with an error frame).
    message_send(fran_ws, "during", "durante el corte")
    reply = next_frame(
        fran_ws,
        lambda f: (f.get("type") in ("message", "error") and f.get("code") != "unavailable") or is_message("during")(f),
        timeout=30,
    )
    assert reply["type"] == "message" and reply["client_id"] == "during", reply
    assert len(stack.run_django(STORED, client_id="during")) == 1
    # A socket opened during the outage works degraded: replay from the database.
    late = open_socket(stack, agent, chat_path + f"?after={reply['id'] - 1}", 1)
    next_frame(late, is_message("during"))

    stack.start_redis()  # same port, empty: every group is gone

    # Every socket is closed with 4012 (service restart) once the layer answers again...
    for ws in (fran_ws, agent_ws, late, bell):
        assert closed_code(ws, timeout=60) == 4012, stack.logs()
    # ...and the first reconnect resumes: replay of what was missed, then live frames again.
    agent_ws = open_socket(stack, agent, chat_path + f"?after={reply['id'] - 1}", 1)
    next_frame(agent_ws, is_message("during"))
    fran_ws = open_socket(stack, franchisee, chat_path + f"?after={reply['id']}", 0)
    next_frame(fran_ws, lambda f: f["type"] == "conversation")
    message_send(agent_ws, "after", "de vuelta")
    assert next_frame(fran_ws, is_message("after"))["body"] == "de vuelta"
    message_send(fran_ws, "after-2", "recibido")
    next_frame(agent_ws, is_message("after-2"))
    bell = open_socket(stack, agent, "/ws/notifications/", 1)
    for ws in (fran_ws, agent_ws, bell):
        ws.close()
