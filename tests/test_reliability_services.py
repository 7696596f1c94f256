"""Background parts down: the Celery worker, the channel layer (Redis), the database.

Each test runs a real stack (Daphne, its own redis-server, a real Celery worker where needed)
and checks what a user and an operator would see: nothing lost, clear errors, /healthz naming
the part that is down.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.browser.livestack import HttpSession, LiveStack, free_port
from tests.test_reliability_chat import FIGURES, require_redis_server

pytestmark = [pytest.mark.slow, pytest.mark.redis]

NEW_ARTICLE = """
from accounts.models import User
from knowledge_base import services
from knowledge_base.models import Article
agent = User.objects.get(username="agent_a")
article = services.create_article(actor=agent, title=params["title"], body=params["body"],
                                  status=Article.Status.PUBLISHED)
result = article.slug
"""
COUNT = """
from notifications.models import Notification
from tickets.models import Comment
result = {"notifications": Notification.objects.filter(recipient__username="fran_centro").count(),
          "comments": Comment.objects.filter(ticket_id=params["ticket"]).count()}
"""


def wait_for(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met after {timeout} s")


def _new_ticket(session: HttpSession, subject: str) -> int:
    response = session.post("/tickets/new/", {"subject": subject, "description": "Se ha parado.", "priority": "normal"})
    assert response.status == 302, response.text[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _suggest_slugs(session: HttpSession, query: str) -> list[str]:
    response = session.get(f"/kb/suggest/?q={quote(query)}")
    assert response.status == 200
    return [hit["slug"] for hit in response.json()["results"]]


@pytest.fixture
def redis_stack(tmp_path):
    require_redis_server()
    stack = LiveStack(tmp_path / "stack", redis=True).start()
    try:
        stack.seed_people()
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def test_celery_worker_down_work_waits_in_the_broker_and_runs_when_it_is_back(redis_stack):
    franchisee = HttpSession(redis_stack.url).login("fran_centro")
    agent = HttpSession(redis_stack.url).login("agent_a")
    mail = Path(redis_stack.env["LIVE_EMAIL_DIR"])

    # No worker: tickets and articles change; the requests succeed, the work waits.
    ticket = _new_ticket(franchisee, "La balanza no pesa")
    response = agent.post(f"/tickets/{ticket}/comments/", {"body": "Calibramos la balanza en remoto."})
    assert response.status == 302
    slug = redis_stack.run_django(NEW_ARTICLE, title="Calibrar la balanza", body="Pulsa tara durante 5 segundos.")
    # The requests have answered, so their tasks are already in the broker's queue, waiting.
    assert redis.Redis.from_url(redis_stack.redis_url).llen("celery") >= 1
    assert _suggest_slugs(franchisee, "calibrar balanza") == []  # not indexed yet
    assert not mail.exists() or not list(mail.iterdir())  # no e-mail sent yet

    # The worker comes back: every queued task runs, nothing was lost.
    redis_stack.start_worker()
    try:
        wait_for(lambda: slug in _suggest_slugs(franchisee, "calibrar balanza"))
        mails = wait_for(lambda: mail.exists() and list(mail.iterdir()))
        text = "\n".join(path.read_text(errors="replace") for path in mails)
        assert "fran_centro@example.com" in text and "Calibramos la balanza" in text
        # and work done while it runs is picked up at once
        second = redis_stack.run_django(NEW_ARTICLE, title="Cambiar el rollo de la balanza", body="Abre la tapa.")
        wait_for(lambda: second in _suggest_slugs(franchisee, "rollo balanza"))
    finally:
        redis_stack.stop_worker()
    _save("celery_worker_down", {"tasks_queued_while_down": "index + e-mail", "lost": 0})


def _notification_socket(stack: LiveStack, session: HttpSession):
    headers = {"Cookie": session.cookie_header, "Origin": session.origin}
    return connect(stack.ws_url("/ws/notifications/"), additional_headers=headers, open_timeout=3, legacy=True)


def test_channel_layer_down_requests_succeed_and_notifications_are_caught_up(redis_stack):
    franchisee = HttpSession(redis_stack.url).login("fran_centro")
    agent = HttpSession(redis_stack.url).login("agent_a")
    ticket = _new_ticket(franchisee, "El cajón no abre")
    before = redis_stack.run_django(COUNT, ticket=ticket)
    bell = _notification_socket(redis_stack, franchisee)

    redis_stack.stop_redis()  # channel layer, cache and broker all gone
    response = agent.post(f"/tickets/{ticket}/comments/", {"body": "Revisa el fusible del cajón."})
    assert response.status == 302, response.text[:300]
    after = redis_stack.run_django(COUNT, ticket=ticket)
    assert after["comments"] == before["comments"] + 1
    assert after["notifications"] > before["notifications"]  # stored even though nobody could be told
    health = HttpSession(redis_stack.url).get("/healthz")
    assert health.status == 503 and "channel_layer" in health.json()["down"]
    with pytest.raises((ConnectionClosed, TimeoutError, OSError)):
        bell.recv(timeout=5)  # the live socket is gone (or silent)

    redis_stack.start_redis()
    bell.close()
    # The bell reconnects (as bell.js does, again if a socket opened during the restart drops)
    # and catches up from the database; then live delivery works again.
    frame, attempts = None, 0
    while frame is None:
        attempts += 1
        assert attempts <= 5, "live notifications never came back after Redis returned"
        bell = wait_for(lambda: _try(lambda: _notification_socket(redis_stack, franchisee)), timeout=30)
        latest = franchisee.get("/notifications/latest/").json()
        assert latest["unread"] >= 1
        assert any("fusible" in (n["body"] + n["title"]) for n in latest["results"])
        response = agent.post(f"/tickets/{ticket}/comments/", {"body": f"¿Funciona ya el cajón? ({attempts})"})
        assert response.status == 302
        try:
            frame = json.loads(bell.recv(timeout=10))
        except (ConnectionClosed, OSError, TimeoutError):
            frame = None
        bell.close()
    assert frame["type"] == "notification" and frame["unread"] > latest["unread"]
    assert HttpSession(redis_stack.url).get("/healthz").status == 200
    _save(
        "channel_layer_down",
        {"requests_failed": 0, "stored_while_down": 1, "caught_up": True, "bell_connects": attempts},
    )


def _try(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception:  # noqa: BLE001 - still down: try again
        return None


INTERNALS = ("Traceback", "OperationalError", "psycopg", "sqlite", "connection", "DATABASE", "settings", "line ")


def test_database_unavailable_error_page_without_internals_and_healthz_says_so(tmp_path):
    stack = LiveStack(tmp_path / "stack", production=True).start()
    try:
        stack.seed_people()
        user = HttpSession(stack.url, behind_tls_proxy=True).login("fran_centro")
        ticket = _new_ticket(user, "La caja registradora no arranca")

        healthy_url = stack.database_url
        stack.env_extra["DATABASE_URL"] = f"postgres://portal@127.0.0.1:{free_port()}/gone"  # nothing listens
        stack.restart_daphne(0, kill=True)

        page = user.get("/tickets/")
        assert page.status in (500, 503)
        assert "Algo ha fallado" in page.text and "No se ha perdido nada" in page.text
        for word in INTERNALS:
            assert word not in page.text, word
        health = HttpSession(stack.url).get("/healthz")
        assert health.status == 503
        body = health.json()
        assert body["down"] == ["database"] and body["checks"]["database"]["ok"] is False
        assert "127.0.0.1" not in health.text and "gone" not in health.text

        # The database comes back: the same session works and nothing was lost.
        stack.env_extra["DATABASE_URL"] = healthy_url
        stack.restart_daphne(0, kill=False)
        assert user.get(f"/tickets/{ticket}/").status == 200
        assert HttpSession(stack.url).get("/healthz").status == 200
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)
    _save("database_down", {"error_status": page.status, "healthz_down": body["down"]})


def _save(name: str, figures: dict) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2))
