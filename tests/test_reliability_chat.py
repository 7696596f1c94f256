"""Chat under faults: Redis restarted and Daphne killed during an active conversation.

A real stack: its own redis-server on a free port, two Daphne processes sharing it (franchisee
on one, agent on the other), a migrated database. The clients behave like chat.js: every
message has a client_id and stays in an outbox until the server echoes it; after a disconnect
they reconnect with ?after=<last id seen> and resend what was not acknowledged. Disconnects are
forced at random. The result must be exact: every message stored once and delivered once to
both participants — 0 lost, 0 duplicated.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.browser.livestack import HttpSession, LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.redis]

FIGURES = Path(__file__).resolve().parent.parent / "var" / "reliability"
CONVERSATION = """
from accounts.models import User
from chat import services
franchisee = User.objects.get(username="fran_centro")
agent = User.objects.get(username="agent_a")
conversation = services.start_conversation(franchisee=franchisee, topic="Prueba de fiabilidad")
services.accept_conversation(conversation_id=conversation.pk, agent=agent)
result = conversation.pk
"""
STORED = """
from collections import Counter
from chat.models import Message
messages = Message.objects.filter(conversation_id=params["conversation"], kind="user")
rows = list(messages.values_list("client_id", flat=True))
result = {"stored": len(rows), "distinct": len(set(rows)), "duplicated": sum(n - 1 for n in Counter(rows).values())}
"""


def require_redis_server() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server must be installed in CI")
        pytest.skip("redis-server is not installed")


class ChatClient:
    """A chat participant with chat.js's delivery rules (outbox, ack by client_id, replay after)."""

    def __init__(self, name: str, stack: LiveStack, daphne: int, session: HttpSession, conversation: int) -> None:
        self.name, self.stack, self.daphne, self.conversation = name, stack, daphne, conversation
        self.headers = {"Cookie": session.cookie_header, "Origin": session.origin}
        self.ws: ClientConnection | None = None
        self.seen: dict[int, str] = {}  # message id -> client_id
        self.client_ids: Counter[str] = Counter()  # deliveries per client_id (duplicates show here)
        self.repeated_frames = 0  # the same message id received twice (the client would drop it)
        self.last_id = 0
        self.connections = 0
        self.forced_drops = 0

    # connection -------------------------------------------------------------------------------
    def connect(self, deadline: float = 60.0) -> None:
        url = self.stack.ws_url(f"/ws/chat/{self.conversation}/?after={self.last_id}", self.daphne)
        stop = time.monotonic() + deadline
        while True:
            try:
                self.ws = connect(url, additional_headers=self.headers, open_timeout=3, close_timeout=1, legacy=True)
                self.connections += 1
                return
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError):
                if time.monotonic() > stop:
                    raise
                time.sleep(0.2)

    def reconnect(self) -> None:
        self.close()
        self.connect()

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):  # already broken
                self.ws.close()
            self.ws = None

    def drop(self) -> None:
        """A forced disconnect: the TCP connection dies without a closing handshake."""
        self.forced_drops += 1
        if self.ws is not None:
            with contextlib.suppress(OSError):
                self.ws.socket.shutdown(socket.SHUT_RDWR)
        self.close()

    # frames -------------------------------------------------------------------------------------
    def _handle(self, frame: dict) -> None:
        if frame.get("type") == "message" and frame.get("kind", "user") == "user":
            if frame["id"] in self.seen:
                self.repeated_frames += 1
            else:
                self.seen[frame["id"]] = frame["client_id"]
                self.client_ids[frame["client_id"]] += 1
            self.last_id = max(self.last_id, frame["id"])
        elif frame.get("type") == "message":
            self.last_id = max(self.last_id, frame["id"])

    def pump(self, seconds: float = 0.0) -> None:
        """Read every frame that arrives within `seconds`; reconnect if the socket died."""
        stop = time.monotonic() + seconds
        while True:
            if self.ws is None:
                self.connect()
            try:
                raw = self.ws.recv(timeout=max(0.0, stop - time.monotonic()))
            except TimeoutError:
                return
            except (ConnectionClosed, OSError):
                self.reconnect()
                continue
            self._handle(json.loads(raw))

    def send(self, client_id: str, body: str, deadline: float = 90.0) -> None:
        """Send until the server echoes this client_id (retries reuse it: stored at most once)."""
        stop = time.monotonic() + deadline
        while client_id not in self.client_ids:
            assert time.monotonic() < stop, f"{self.name}: {client_id} never acknowledged"
            if self.ws is None:
                self.connect()
            try:
                self.ws.send(json.dumps({"type": "message.send", "client_id": client_id, "body": body}))
                wait_until = time.monotonic() + 3
                while client_id not in self.client_ids and time.monotonic() < wait_until:
                    frame = json.loads(self.ws.recv(timeout=max(0.01, wait_until - time.monotonic())))
                    if frame.get("type") == "error" and frame.get("code") == "rate_limited":
                        time.sleep(0.5)
                        break
                    self._handle(frame)
                if client_id not in self.client_ids:
                    self.reconnect()  # no answer: the replay will tell whether it was stored
            except (ConnectionClosed, OSError, TimeoutError):
                self.reconnect()


def _history(stack: LiveStack, session: HttpSession, conversation: int) -> Counter[str]:
    """A fresh connection without ?after: the whole stored conversation, as a user would see it."""
    fresh = ChatClient("history", stack, 0, session, conversation)
    fresh.connect()
    fresh.pump(2.0)
    fresh.close()
    return fresh.client_ids


@pytest.fixture
def chat_stack(tmp_path):
    require_redis_server()
    stack = LiveStack(tmp_path / "stack", daphne_count=2, redis=True, env_extra={"LIVE_CHAT_RATE_LIMIT": "1000000"})
    stack.start()
    try:
        stack.seed_people()
        stack.conversation = stack.run_django(CONVERSATION)
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def _run(stack: LiveStack, total: int, fault, fault_at: list[int], seed: int) -> dict:
    """Send `total` messages (alternating authors, each on its own Daphne) with random drops;
    call `fault()` in the background when message number `fault_at[i]` is reached."""
    rng = random.Random(seed)
    fran_session = HttpSession(stack.url_of(0)).login("fran_centro")
    agent_session = HttpSession(stack.url_of(1)).login("agent_a")
    franchisee = ChatClient("franchisee", stack, 0, fran_session, stack.conversation)
    agent = ChatClient("agent", stack, 1, agent_session, stack.conversation)
    franchisee.connect()
    agent.connect()
    sent: list[str] = []
    faults: list[threading.Thread] = []
    started = time.monotonic()
    for i in range(total):
        if i in fault_at:
            thread = threading.Thread(target=fault, daemon=True)
            thread.start()
            faults.append(thread)
        author, reader = (franchisee, agent) if i % 2 == 0 else (agent, franchisee)
        client_id = str(uuid.uuid4())
        author.send(client_id, f"Mensaje {i} de {author.name}")
        sent.append(client_id)
        reader.pump(0)
        if rng.random() < 0.04:
            rng.choice((franchisee, agent)).drop()
    for thread in faults:
        thread.join(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(set(sent) <= set(c.client_ids) for c in (franchisee, agent)):
        franchisee.pump(0.2)
        agent.pump(0.2)
    elapsed = time.monotonic() - started
    franchisee.close()
    agent.close()

    stored = stack.run_django(STORED, conversation=stack.conversation)
    history = _history(stack, fran_session, stack.conversation)
    figures = {
        "sent": total,
        "stored": stored["stored"],
        "lost": len(set(sent) - set(history)),
        "duplicated_in_storage": stored["duplicated"],
        "delivered_to_franchisee": len(set(sent) & set(franchisee.client_ids)),
        "delivered_to_agent": len(set(sent) & set(agent.client_ids)),
        "duplicated_deliveries": sum(n - 1 for c in (franchisee, agent) for n in c.client_ids.values()),
        "repeated_frames_dropped_by_client": franchisee.repeated_frames + agent.repeated_frames,
        "forced_disconnects": franchisee.forced_drops + agent.forced_drops,
        "reconnects": franchisee.connections + agent.connections - 2,
        "seconds": round(elapsed, 1),
    }
    assert len(history) == total and all(n == 1 for n in history.values()), figures
    return figures


def _save(name: str, figures: dict) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2))
    print(f"\n{name}: {json.dumps(figures)}")


def _check(figures: dict, total: int) -> None:
    assert figures["stored"] == total
    assert figures["lost"] == 0
    assert figures["duplicated_in_storage"] == 0
    assert figures["delivered_to_franchisee"] == total and figures["delivered_to_agent"] == total
    assert figures["duplicated_deliveries"] == 0


def test_redis_restarted_during_an_active_chat_loses_and_duplicates_nothing(chat_stack):
    total = 1000

    def restart_redis() -> None:
        chat_stack.stop_redis()
        time.sleep(1.5)
        chat_stack.start_redis()

    figures = _run(chat_stack, total, restart_redis, fault_at=[total // 3, 2 * total // 3], seed=8)
    _save("redis_restart", {**figures, "redis_restarts": 2})
    _check(figures, total)
    assert figures["forced_disconnects"] > 10


def test_daphne_killed_and_restarted_during_an_active_chat_loses_and_duplicates_nothing(chat_stack):
    total = 1000
    kills = iter([0, 1, 0])

    def kill_daphne() -> None:
        chat_stack.restart_daphne(next(kills), kill=True)

    figures = _run(chat_stack, total, kill_daphne, fault_at=[250, 500, 750], seed=13)
    _save("daphne_kill", {**figures, "daphne_kills": 3})
    _check(figures, total)
