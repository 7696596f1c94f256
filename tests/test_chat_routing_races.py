"""Routing races on PostgreSQL: never one chat to two agents, never an agent above capacity.

Threads (one connection each) and two Daphne processes sharing the test database and Redis
route the same queue at the same moment."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection, connections

from accounts.services import save_franchise, save_user
from chat import dispatch, presence, services
from chat.models import AgentAvailability, Conversation, Message
from tests.conftest import PASSWORD, require_env
from tests.servers import daphne, session_cookie

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AGENTS = 3
CAPACITY = 2
CHATS = 10


def _postgres() -> None:
    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")


def _world(prefix: str) -> tuple[list, list[int]]:
    """AGENTS agents (away, capacity CAPACITY) and CHATS waiting chats from several franchisees."""
    centro = save_franchise(code=f"{prefix}-c", name="Centro")[0]
    agents = [save_user(username=f"{prefix}_ag{n}", role="agent", password=PASSWORD)[0] for n in range(AGENTS)]
    for agent in agents:
        AgentAvailability.objects.create(agent=agent, status="away", chat_capacity=CAPACITY)
    fran = [
        save_user(username=f"{prefix}_fr{n}", role="franchisee", franchise=centro, password=PASSWORD)[0]
        for n in range(4)
    ]
    chats = [services.start_conversation(franchisee=fran[n % 4], topic=f"Chat {n}").pk for n in range(CHATS)]
    return agents, chats


def _check(agents, chats) -> None:
    """Every agent exactly at capacity, each routed chat with one agent and one join message."""
    rows = Conversation.objects.filter(pk__in=chats)
    loads = Counter(rows.filter(status="active").values_list("agent_id", flat=True))
    assert loads == {agent.pk: CAPACITY for agent in agents}, loads
    assert rows.filter(status="waiting").count() == CHATS - AGENTS * CAPACITY
    joins = Counter(
        Message.objects.filter(conversation_id__in=chats, kind="system", body__contains="se ha unido").values_list(
            "conversation_id", flat=True
        )
    )
    active = set(rows.filter(status="active").values_list("pk", flat=True))
    assert set(joins) == active and set(joins.values()) == {1}, joins
    # the oldest chats were routed first
    assert active == set(sorted(chats)[: AGENTS * CAPACITY])


def _at_once(jobs) -> list:
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index: int, job) -> None:
        barrier.wait()
        try:
            results[index] = job()
        except Exception as error:  # noqa: BLE001 - the assertion reports it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_parallel_routers_in_threads(franchisee):
    _postgres()
    agents, chats = _world("thr")
    for agent in agents:
        presence.agent_connected(agent.pk)
    AgentAvailability.objects.filter(agent__in=agents).update(status="available")
    results = _at_once([dispatch.route_waiting for _ in range(6)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == AGENTS * CAPACITY
    _check(agents, chats)


def test_router_and_manual_accept_race_for_one_chat(franchisee, agent, agent2):
    _postgres()
    presence.agent_connected(agent.pk)
    for round_ in range(5):
        AgentAvailability.objects.update_or_create(agent=agent, defaults={"status": "away"})
        conversation = services.start_conversation(franchisee=franchisee, topic=f"Carrera {round_}")  # waits
        AgentAvailability.objects.filter(agent=agent).update(status="available")

        def manual(pk=conversation.pk):
            try:
                return services.accept_conversation(conversation_id=pk, agent=agent2)
            except services.AlreadyTaken as error:
                return error

        results = _at_once([lambda pk=conversation.pk: dispatch.route(pk), manual])
        conversation.refresh_from_db()
        assert conversation.status == "active"
        routed = results[0] is dispatch.Outcome.ROUTED
        assert routed == (conversation.agent_id == agent.pk), results
        assert isinstance(results[1], services.AlreadyTaken) == routed, results
        assert conversation.messages.filter(body__contains="se ha unido").count() == 1
        services.close_conversation(conversation_id=conversation.pk, actor=franchisee)


# --- two Daphne processes ---------------------------------------------------------------------


def _database_url() -> str:
    db = settings.DATABASES["default"]
    netloc = f"{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}" if db["USER"] else f"{db['HOST']}:{db['PORT'] or 5432}"
    return urllib.parse.urlunsplit(("postgres", netloc, f"/{db['NAME']}", "", ""))


def _post_available(port: int, cookie: str) -> int:
    token = secrets.token_hex(16)  # 32 characters: a valid CSRF secret, sent as cookie and field
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/agent/availability/",
        data=urllib.parse.urlencode({"status": "available", "csrfmiddlewaretoken": token}).encode(),
        headers={
            "Cookie": f"sessionid={cookie}; csrftoken={token}",
            "Origin": f"http://127.0.0.1:{port}",
            "Accept": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


async def _open_notifications(port: int, cookie: str):
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://127.0.0.1:{port}/ws/notifications/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={cookie}"},
    )


@pytest.mark.redis
@pytest.mark.slow
def test_two_daphne_processes_route_one_queue(franchisee, tmp_path):
    """Each agent's socket is open on one of two processes; all become available at the same
    moment, half through each process: each process routes the queue on its own."""
    _postgres()
    redis_url = require_env("REDIS_URL")
    agents, chats = _world("proc")
    cookies = [session_cookie(agent) for agent in agents]
    env = {
        "DEBUG": "true",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
    }
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(daphne(env, log_path=tmp_path / f"daphne{n}.log"))[0] for n in range(2)]

        async def sockets():
            return [await _open_notifications(ports[n % 2], cookie) for n, cookie in enumerate(cookies)]

        loop = asyncio.new_event_loop()
        try:
            opened = loop.run_until_complete(sockets())
            deadline = time.monotonic() + 60
            while len(presence.online_agent_ids([a.pk for a in agents])) < AGENTS and time.monotonic() < deadline:
                time.sleep(0.05)  # poll interval: the sockets register their presence in Redis
            assert presence.online_agent_ids([a.pk for a in agents]) == {a.pk for a in agents}
            # each agent posts on the *other* process than their socket's, all at once
            statuses = _at_once(
                [lambda n=n, c=c: _post_available(ports[(n + 1) % 2], c) for n, c in enumerate(cookies)]
            )
            assert statuses == [200] * AGENTS, statuses
            deadline = time.monotonic() + 60
            while (
                Conversation.objects.filter(pk__in=chats, status="active").count() < AGENTS * CAPACITY
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)  # poll interval: routing runs after each request's commit
            for ws in opened:
                loop.run_until_complete(ws.close())
        finally:
            loop.close()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("daphne*.log"))
    assert "Traceback" not in logs, logs
    _check(agents, chats)
