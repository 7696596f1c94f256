"""Property-based fuzzing (hypothesis): chat WebSocket frames and search queries.

- Chat frames go to a real Daphne process over a real socket. Whatever arrives — bad JSON,
  wrong types, huge or empty bodies, binary frames, unknown frame types — the server never
  fails, the socket stays open, and only frames it accepted (echoed as `message`) are stored.
- Search queries go through the HTTP endpoints (/kb/search/, /kb/suggest/ and the ticket and
  dashboard filters): never a server error, and the highlighted snippets stay inert.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from urllib.parse import quote, urlencode

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


# --- every URL pattern with hostile ids, query strings and bodies ------------------------------------
#
# The routes come from the resolver (tests/urlwalk.py: iter_templates), so an endpoint added later is
# fuzzed without a new test. Visitors: anonymous, a franchisee of another franchise (Norte), an
# agent. Whatever arrives: never a 5xx, and nobody outside Centro ever sees Centro's rows.

HUGE_IDS = ["99999999999999999999999", "9223372036854775808", "18446744073709551616", "0" * 30 + "1"]
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "%00",
        "hola",
        "-1",
        "1e9",
        "NaN",
        "[]",
        "{}",
        "../",
        "//evil.example",
        "javascript:x",
        "\u202e",
        "\ud7ff",
        "😀",
        "a" * 5000,
        *HUGE_IDS,
        "9223372036854775807",
    ]
) | st.text(max_size=40)
FIELD_NAMES = st.sampled_from(
    [
        "q",
        "page",
        "status",
        "next",
        "after",
        "limit",
        "view",
        "sort",
        "category",
        "franchise",
        "unread",
        "priority",
        "subject",
        "description",
        "body",
        "topic",
        "internal",
        "assignee",
        "target",
        "rating",
        "comment",
        "helpful",
        "tickets",
        "action",
        "agent",
        "reason",
        "submission_token",
        "title",
        "slug",
        "language",
        "review_interval_days",
        "owner",
        "tags",
        "summary",
        "note",
        "up_to",
        "_save",
        "post",
        "action_checkbox",
        "index",
        "o",
        "p",
        "e",
    ]
) | st.text(min_size=1, max_size=10)
PARAMS = st.dictionaries(FIELD_NAMES, HOSTILE_TEXT | st.lists(HOSTILE_TEXT, max_size=3), max_size=6)
LEAK_MARKERS = ("ZQXCENTROTICKET", "ZQXCENTROCHAT", "ZQXCENTRONOTE", "ZQXCENTROCOMMENT", "ZQXBORRADOR")


def _slot_values(world_values: dict) -> dict[str, st.SearchStrategy[str]]:
    ids = st.sampled_from([str(v) for v in world_values["ids"]])
    hostile_ids = st.sampled_from(HUGE_IDS) | st.integers(min_value=0, max_value=10**30).map(str) | ids
    slugs = st.sampled_from(world_values["slugs"]) | st.from_regex(r"[-a-zA-Z0-9_]{1,60}", fullmatch=True)
    return {
        "id": hostile_ids,
        "int": hostile_ids,
        "slug": slugs,
        "str": HOSTILE_TEXT,
        "path": hostile_ids | HOSTILE_TEXT,
        "uuid": st.uuids().map(str),
        "regex": st.sampled_from(["tickets", "chat", "x", "9" * 25]) | HOSTILE_TEXT,
    }


def _fill_path(template: str, values: list[str]) -> str:
    return template.format(*(quote(value, safe="") or "x" for value in values))


@pytest.fixture
def fuzz_world(db, settings, tmp_path, django_capture_on_commit_callbacks):
    """Centro's rows (what must never leak) and the three visitors of the fuzz."""
    from accounts.services import save_franchise, save_user
    from chat import services as chat_services
    from knowledge_base import services as kb_services
    from notifications.services import notify
    from tests.tickets_factories import make_ticket, png
    from tickets import services as ticket_services

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TICKET_CREATE_RATE = settings.COMMENT_CREATE_RATE = "0"  # limits are tested elsewhere
    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    norte = save_franchise(code="norte", name="Franquicia Norte")[0]
    owner = save_user(username="owner", role="franchisee", franchise=centro)[0]
    other = save_user(username="other", role="franchisee", franchise=norte)[0]
    agent = save_user(username="agent", role="agent", first_name="Ana")[0]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(owner, subject="ZQXCENTROTICKET datáfono", attachments=[png()])
        ticket_services.add_comment(ticket=ticket, actor=owner, body="ZQXCENTROCOMMENT")
        conversation = chat_services.start_conversation(franchisee=owner, topic="ZQXCENTROCHAT")
        note = notify(recipient=owner, kind="ticket_status", title="ZQXCENTRONOTE", url=ticket.get_absolute_url())
        article = kb_services.create_article(actor=agent, title="Público", body="Texto.", status="published")
        draft = kb_services.create_article(actor=agent, title="ZQXBORRADOR", body="ZQXBORRADOR")
    clients = {}
    for role, user in (("anonymous", None), ("other", other), ("agent", agent)):
        client = Client(raise_request_exception=False)
        client.fuzz_user = user  # logged in again before each request (a fuzzed POST may log out)
        clients[role] = client
    ids = [ticket.pk, ticket.attachments.first().pk, conversation.pk, note.pk, 1, article.revisions.first().number]
    return clients, {"ids": ids, "slugs": [article.slug, draft.slug]}


#: Server errors whose fix belongs to another branch: left out of the sweep and the fuzz, and pinned
#: by a strict xfail (test_server_errors_fixed_elsewhere) so the mark goes when that branch merges.
ELSEWHERE = {
    ("POST", "/admin/knowledge_base/articlefeedback/add/"): "admin add form stores a NULL `helpful` (admin slice)",
}


def _check(role: str, method: str, url: str, response, failures: list[str]) -> None:
    if (method, url) in ELSEWHERE:
        return
    if response.status_code >= 500:
        failures.append(f"{method} {url!r:.300} as {role}: {response.status_code}")
    if role != "agent" and not getattr(response, "streaming", False):
        body = response.content.decode("utf-8", "replace")
        leaked = [m for m in LEAK_MARKERS if m in body]
        if leaked:
            failures.append(f"{method} {url!r:.300} as {role}: shows {leaked}")


def _request(client: Client, method: str, url: str, params: dict):
    if client.fuzz_user is not None and "_auth_user_id" not in client.session:
        client.force_login(client.fuzz_user)
    if method == "GET":
        return client.get(url, params)
    return client.post(url, params)


def test_every_route_with_out_of_range_ids_is_never_a_server_error(fuzz_world):
    """A deterministic sweep: each route once per visitor and method, every slot an absurd value."""
    from tests.urlwalk import iter_templates

    clients, _values = fuzz_world
    failures: list[str] = []
    templates = list(iter_templates())
    for template, slots in templates:
        url = _fill_path(template, ["99999999999999999999999" if t in ("id", "int", "path") else "zz-9" for t in slots])
        for role, client in clients.items():
            for method in ("GET", "POST"):
                cache.clear()
                _check(
                    role, method, url, _request(client, method, url, {"next": "hola", "page": HUGE_IDS[0]}), failures
                )
    assert not failures, "\n".join(failures)
    print(f"\nURL sweep: {len(templates)} routes × 3 visitors × 2 methods, no server error, no leak")


def test_fuzzed_requests_over_every_route_never_fail_or_leak(fuzz_world):
    from tests.urlwalk import iter_templates

    clients, values = fuzz_world
    slot_values = _slot_values(values)
    templates = list(iter_templates())
    tally = {"requests": 0, "4xx": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        data=st.data(),
        route=st.sampled_from(templates),
        role=st.sampled_from(sorted(clients)),
        method=st.sampled_from(["GET", "POST"]),
        params=PARAMS,
    )
    def request(data, route, role, method, params):
        template, slots = route
        url = _fill_path(template, [data.draw(slot_values.get(t, HOSTILE_TEXT)) for t in slots])
        cache.clear()  # rate limits are not under test here
        failures: list[str] = []
        response = _request(clients[role], method, url, params)
        _check(role, method, url, response, failures)
        assert not failures, failures
        tally["requests"] += 1
        tally["4xx"] += 400 <= response.status_code < 500

    request()
    print(f"\nURL fuzz: {tally} over {len(templates)} routes")


@pytest.mark.parametrize(("method", "url"), list(ELSEWHERE))
def test_server_errors_fixed_elsewhere(fuzz_world, method, url):
    clients, _values = fuzz_world
    assert _request(clients["agent"], method, url, {"next": "hola"}).status_code < 500


# --- both socket endpoints, in process: hostile paths and frames ---------------------------------------
#
# An exception inside a consumer (what Daphne turns into a 1011 close and a traceback) surfaces here
# from the communicator. The real-Daphne fuzz of chat frames is test_fuzzed_chat_frames_… above.
# Deeply nested JSON is left to h/sockrobust's tests: its RecursionError crashes pytest's reporting.

LONE_SURROGATE = '{"type": "message.send", "client_id": "s1", "body": "x\\ud800y"}'


@pytest.fixture
def socket_world(transactional_db):
    from accounts.services import save_franchise, save_user
    from chat import services as chat_services

    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    owner = save_user(username="owner", role="franchisee", franchise=centro)[0]
    agent = save_user(username="agent", role="agent", first_name="Ana")[0]
    conversation = chat_services.start_conversation(franchisee=owner, topic="Datáfono")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    return owner, agent, conversation


async def _open(path: str, user):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from support_portal.asgi import application
    from tests.servers import session_cookie, ws_headers

    cookie = await database_sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(application, path, headers=ws_headers(cookie))
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def _drain(communicator) -> list[dict]:
    """The frames already queued (history, answers) until the socket is quiet for a moment; a close
    frame is returned as {"close": code}. Only for skipping: a check waits with `_wait_for`."""
    frames = []
    while not await communicator.receive_nothing(timeout=0.3):
        output = await communicator.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            frames.append({"close": output.get("code")})
            break
        frames.append(json.loads(output["text"]))
    return frames


async def _wait_for(communicator, wanted, *, timeout: float = 30) -> list[dict]:
    """Every frame up to and including the first one `wanted` accepts (a close is {"close": code}).

    Waits for that frame rather than for a quiet moment, so a slow, loaded machine only makes it
    slower; fails when the socket closes first or nothing wanted arrives within `timeout`."""
    frames: list[dict] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no wanted frame within {timeout} s; got {frames}")
        try:
            output = await communicator.receive_output(timeout=left)
        except TimeoutError:
            raise AssertionError(f"no wanted frame within {timeout} s; got {frames}") from None
        frame = {"close": output.get("code")} if output["type"] == "websocket.close" else json.loads(output["text"])
        frames.append(frame)
        if wanted(frame):
            return frames
        if "close" in frame:
            raise AssertionError(f"the socket closed first: {frames}")


async def _still_open_chat(communicator, sentinel: str) -> None:
    await communicator.send_to(text_data=json.dumps({"type": "message.send", "client_id": sentinel, "body": "ok"}))
    await _wait_for(communicator, lambda f: f.get("type") == "message" and f.get("client_id") == sentinel)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?after=99999999999999999999999",
        "?after=-1",
        "?after=abc",
        "?after=%00",
        "?after=1&after=2",
        "?" + "a" * 3000,
    ],
)
async def test_chat_socket_with_hostile_query_strings_stays_usable(socket_world, query):
    owner, _agent, conversation = socket_world
    communicator, connected = await _open(f"/ws/chat/{conversation.pk}/{query}", owner)
    assert connected
    assert all("close" not in f for f in await _drain(communicator))
    await _still_open_chat(communicator, "after-query")
    await communicator.disconnect()


@pytest.mark.parametrize(
    "path",
    [
        "/ws/chat/0/",
        "/ws/chat/99999999999999999999999/",
        "/ws/chat/1",
        "/ws/other/",
    ],
)
async def test_hostile_socket_paths_close_cleanly(socket_world, path):
    owner, _agent, _conversation = socket_world
    communicator, connected = await _open(path, owner)
    if connected:
        frames = await _wait_for(communicator, lambda f: "close" in f)
        assert frames[-1]["close"] in (4401, 4403, 4404), frames
        await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "read", "up_to": 99999999999999999999999}',
        '{"type": "read", "up_to": "1"}',
        '{"type": "message.send", "client_id": "z", "body": "\\u202e\\u200b"}',
        "null",
        "[]",
        LONE_SURROGATE,
    ],
)
async def test_chat_socket_survives_hostile_frames(socket_world, frame):
    owner, _agent, conversation = socket_world
    communicator, _ = await _open(f"/ws/chat/{conversation.pk}/", owner)
    await _drain(communicator)
    await communicator.send_to(text_data=frame)
    try:
        await _still_open_chat(communicator, "after-frame")
    except AssertionError:
        raise
    except BaseException as exc:  # noqa: BLE001 — the consumer crashed (1011 under Daphne)
        raise AssertionError(f"the consumer raised {type(exc).__name__} (a 1011 close under Daphne)") from None
    await communicator.disconnect()


async def test_notification_socket_survives_hostile_frames(socket_world):
    from channels.layers import get_channel_layer

    owner, _agent, _conversation = socket_world
    communicator, connected = await _open("/ws/notifications/", owner)
    assert connected
    await _drain(communicator)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frame=FRAMES)
    def frames(frame):
        sent.append(frame)

    sent: list = []
    frames()  # draw the frames synchronously, send them on the socket's loop
    for frame in [*sent, LONE_SURROGATE.replace("\\ud800", "x"), '{"type": "read", "up_to": 1e309}']:
        if not frame:
            continue  # an empty frame cannot be sent through the test communicator
        if isinstance(frame, bytes):
            await communicator.send_to(bytes_data=frame)
        else:
            await communicator.send_to(text_data=frame)
    assert all("close" not in f for f in await _drain(communicator))
    # still subscribed: a push to the user's group arrives
    await get_channel_layer().group_send(
        f"notifications.user.{owner.pk}", {"type": "push.frame", "frame": {"type": "notification", "id": 0}}
    )
    await _wait_for(communicator, lambda f: f.get("type") == "notification")
    await communicator.disconnect()
