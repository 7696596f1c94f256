"""Property-based fuzzing (hypothesis): chat WebSocket frames and search queries.

- Chat frames go to a real Daphne process over a real socket. Whatever arrives — bad JSON,
  wrong types, huge or empty bodies, binary frames, unknown frame types — the server never
  fails, the socket stays open, and only frames it accepted (echoed as `message`) are stored.
- Search queries go through the HTTP endpoints (/kb/search/, /kb/suggest/ and the ticket and
  dashboard filters): never a server error, and the highlighted snippets stay inert.
"""

from __future__ import annotations

import json
import shutil
import uuid
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.browser.livestack import HttpSession, LiveStack
from tests.xss_vectors import VECTORS, find_injections

pytestmark = pytest.mark.slow

CONVERSATION = """
from accounts.models import User
from chat import services
conversation = services.start_conversation(franchisee=User.objects.get(username="fran_centro"), topic="Fuzz")
services.accept_conversation(conversation_id=conversation.pk, agent=User.objects.get(username="agent_a"))
result = conversation.pk
"""
STORED = """
from chat.models import Message
messages = Message.objects.filter(conversation_id=params["conversation"], kind="user")
result = sorted(messages.values_list("id", flat=True))
"""

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ANY = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80) | st.lists(st.integers(), max_size=3)
)
BODY_SAMPLES = ["", "   ", "\x00", "ok", "\u202e", "😀" * 10] + [v.payload for v in VECTORS]
BODIES = ANY | st.text(min_size=3990, max_size=4010) | st.sampled_from(BODY_SAMPLES)
CLIENT_IDS = ANY | st.text(min_size=60, max_size=70) | st.uuids().map(str) | st.sampled_from(["", " ", "dup"])
FRAME_TYPES = st.sampled_from(["message.send", "typing", "read", "message", "conversation", ""]) | st.text(max_size=20)
STRUCTURED = st.fixed_dictionaries(
    {"type": FRAME_TYPES},
    optional={"body": BODIES, "client_id": CLIENT_IDS, "up_to": ANY | st.integers(min_value=-(2**70), max_value=2**70)},
)
MESSAGES = st.fixed_dictionaries(
    {
        "type": st.just("message.send"),
        "body": st.text(min_size=0, max_size=50)
        | st.text(min_size=3995, max_size=4005)
        | st.sampled_from(BODY_SAMPLES),
        "client_id": st.text(min_size=0, max_size=70) | st.uuids().map(str),
    }
)
FRAMES = (
    MESSAGES.map(json.dumps)
    | STRUCTURED.map(json.dumps)
    | JSON_VALUES.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=100)
    | st.just("x" * 40_000)
)


class Socket:
    """One chat socket that the test reopens (and counts) if the server ever drops it."""

    def __init__(self, stack: LiveStack, conversation: int, session: HttpSession) -> None:
        self.url = stack.ws_url(f"/ws/chat/{conversation}/")
        self.headers = {"Cookie": session.cookie_header, "Origin": session.origin}
        self.sentinels: set[str] = set()
        self.ws = None
        self.open()

    def open(self) -> None:
        self.ws = connect(self.url, additional_headers=self.headers, legacy=True)
        self.exchange("inicio")  # the replay and the status frame are behind us

    def exchange(self, frame: str | bytes | None) -> list[dict]:
        """Send `frame`, then a sentinel message; the frames the server sent up to its echo."""
        if frame is not None:
            self.ws.send(frame)
        sentinel = str(uuid.uuid4())
        self.sentinels.add(sentinel)
        self.ws.send(json.dumps({"type": "message.send", "client_id": sentinel, "body": "centinela"}))
        frames = []
        while True:
            reply = json.loads(self.ws.recv(timeout=10))
            if reply.get("type") == "message" and reply.get("client_id") == sentinel:
                return frames
            frames.append(reply)


@pytest.fixture(scope="module")
def chat_socket(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    stack = LiveStack(work / "stack", env_extra={"LIVE_CHAT_RATE_LIMIT": "1000000"}).start()
    try:
        stack.seed_people()
        conversation = stack.run_django(CONVERSATION)
        socket = Socket(stack, conversation, HttpSession(stack.url).login("fran_centro"))
        yield stack, conversation, socket
        socket.ws.close()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_fuzzed_chat_frames_never_break_the_socket_and_store_only_accepted_messages(chat_socket):
    stack, conversation, socket = chat_socket
    accepted: set[int] = set()
    tally = {"frames": 0, "rejected": 0, "accepted": 0, "broken": 0}

    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=(Phase.explicit, Phase.generate),  # every example costs a round trip: no shrinking
    )
    @given(frame=FRAMES)
    @example(frame=json.dumps({"type": "message.send", "client_id": "nul", "body": "a\x00b"}))
    @example(frame=json.dumps({"type": "message.send", "client_id": "nul\x00", "body": "ok"}))
    @example(frame=json.dumps({"type": "read", "up_to": 2**70}))
    @example(frame=b"\x00\xff")
    def send_one(frame):
        try:
            replies = socket.exchange(frame)
        except (ConnectionClosed, OSError) as exc:
            tally["broken"] += 1
            socket.open()
            raise AssertionError(f"the server dropped the socket on {frame!r:.300}: {exc}") from exc
        tally["frames"] += 1
        for reply in replies:
            assert reply["type"] in ("message", "error", "typing", "read", "conversation"), reply
            if reply["type"] == "error":
                assert reply["code"] in ("invalid", "too_long", "rate_limited", "forbidden"), reply
                tally["rejected"] += 1
            if reply["type"] == "message":
                accepted.add(reply["id"])
                tally["accepted"] += 1

    send_one()
    stored = stack.run_django(STORED, conversation=conversation)
    assert len(stored) == len(accepted) + len(socket.sentinels), (len(stored), len(accepted), len(socket.sentinels))
    assert accepted <= set(stored)
    log = "\n".join(d.log() for d in stack.daphnes)
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]
    print(f"\nWebSocket fuzz: {tally} (socket open throughout, {len(stored)} stored = accepted + sentinels)")


# --- search queries over HTTP ----------------------------------------------------------------------

QUERIES = (
    st.text(max_size=300)
    | st.sampled_from([v.payload for v in VECTORS])
    | st.sampled_from(['"', "AND (", "*", "~2", "title:x", "\\", "%", "%00", "OR OR", "((((", "n" * 5000])
)


@pytest.mark.django_db
def test_fuzzed_search_queries_never_fail_and_snippets_stay_inert(small_kb, franchisee, agent):
    client, agent_client = Client(), Client()
    client.force_login(franchisee)
    agent_client.force_login(agent)
    tally = {"queries": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(q=QUERIES)
    def search(q):
        cache.clear()  # the suggest rate limit is not under test here
        query = urlencode({"q": q})
        for user_client, url in (
            (client, f"/kb/search/?{query}"),
            (client, f"/kb/suggest/?{query}"),
            (client, f"/tickets/?{query}"),
            (agent_client, f"/agent/?view=open&{query}"),
        ):
            response = user_client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if url.startswith("/kb/suggest/"):
                for hit in response.json()["results"]:
                    assert not find_injections(hit["snippet"]), hit
            else:
                assert not find_injections(response.content.decode()), url
        tally["queries"] += 1

    search()
    print(f"\nSearch fuzz: {tally['queries']} queries × 4 endpoints, no server error")


@pytest.fixture
def small_kb(settings, tmp_path, agent, django_capture_on_commit_callbacks):
    """A small published knowledge base in a throwaway index, so queries can match something."""
    from knowledge_base import services
    from knowledge_base.models import Article
    from knowledge_base.testing import temporary_search_index

    with temporary_search_index(tmp_path / "whoosh"):
        with django_capture_on_commit_callbacks(execute=True):
            for title, body in (
                ("El datáfono no tiene conexión", "Comprueba el cable de red <b>y</b> reinicia."),
                ("<script>alert(1)</script> impresora", "El rollo de papel «térmico» & la tapa."),
            ):
                services.create_article(actor=agent, title=title, body=body, status=Article.Status.PUBLISHED)
        yield
