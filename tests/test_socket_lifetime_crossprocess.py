"""Socket lifetime across two Daphne processes on Redis (issue 11): sockets open on process A are
closed with the right code when the change is made through process B (an HTTP logout) or by a
service call in a third process, and a message sent after the change is not stored."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import require_env
from tests.servers import ROOT, cross_process_env, daphne

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CLOSE_WITHIN = 30.0  # seconds: a bound for a 2-core machine under heavy load (quiet: 0.2–0.5 s, printed)

SETUP = """
import json, django
django.setup()
from accounts.services import save_franchise, save_user
from chat import services
from tests.servers import session_cookie
centro = save_franchise(code="centro", name="Franquicia Centro")[0]
save_franchise(code="norte", name="Franquicia Norte")
fran = save_user(username="fran_l", role="franchisee", franchise=centro, password="Xx-12345-pass")[0]
agent = save_user(username="agent_l", role="agent", password="Xx-12345-pass")[0]
conversation = services.start_conversation(franchisee=fran, topic="Vida de los sockets")
services.accept_conversation(conversation_id=conversation.pk, agent=agent)
print(json.dumps({"conversation": conversation.pk, "fran1": session_cookie(fran), "fran2": session_cookie(fran),
                  "agent": session_cookie(agent)}))
"""

DEMOTE_AGENT = """
import django
django.setup()
from accounts.models import Franchise
from accounts.services import save_user
save_user(username="agent_l", role="franchisee", franchise=Franchise.objects.get(code="centro"))
"""

MOVE_WITHOUT_SIGNALS = """
import django
django.setup()
from accounts.models import Franchise, User
User.objects.filter(username="fran_l").update(franchise=Franchise.objects.get(code="norte"))
"""

STORED = """
import django, sys
django.setup()
from chat.models import Message
print(Message.objects.filter(client_id=sys.argv[1]).count())
"""


def run_script(env: dict[str, str], code: str, *args: str) -> str:
    full = {**env, "DJANGO_SETTINGS_MODULE": "support_portal.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=full, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def prepare(env: dict[str, str]) -> dict:
    """Users, sessions and a conversation in the shared database (migrated: cross_process_env)."""
    return json.loads(run_script(env, SETUP).splitlines()[-1])


def http_logout(port: int, session: str) -> int:
    """POST /accounts/logout/ on that process like a browser: CSRF cookie + token, no redirects."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)
        cookie = next(v for k, v in page.headers.items() if k.lower() == "set-cookie" and "csrftoken=" in v)
    csrf_cookie = cookie.split(";", 1)[0]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/accounts/logout/",
        data=urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
        headers={"Cookie": f"sessionid={session}; {csrf_cookie}", "Origin": f"http://127.0.0.1:{port}"},
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        return urllib.request.build_opener(NoRedirect).open(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


async def open_socket(port: int, path: str, session: str):
    ws = await connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session}"},
    )
    if path.startswith("/ws/chat/"):
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "conversation":
            pass
    return ws


async def close_code(ws, *, since: float, name: str = "") -> tuple[int, float, list[dict]]:
    """Wait for the server's close: (code, seconds since `since`, frames received meanwhile)."""
    frames = []
    deadline = time.monotonic() + CLOSE_WITHIN
    try:
        while time.monotonic() < deadline:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic())))
    except ConnectionClosed:
        return ws.close_code, time.monotonic() - since, frames
    except TimeoutError:
        pass
    raise AssertionError(f"{name}: socket still open {CLOSE_WITHIN} s after the change; frames {frames}")


def test_changes_close_sockets_on_the_other_process(tmp_path):
    redis_url = require_env("REDIS_URL")
    env = cross_process_env(tmp_path, redis_url)
    data = prepare(env)
    with (
        daphne(env, log_path=tmp_path / "a.log") as (port_a, _),
        daphne(env, log_path=tmp_path / "b.log") as (port_b, _),
    ):
        timings = asyncio.run(scenario(env, data, port_a, port_b))
    print("close after change (s):", {k: round(v, 3) for k, v in timings.items()})
    assert "Traceback" not in (tmp_path / "a.log").read_text()


async def scenario(env: dict[str, str], data: dict, port_a: int, port_b: int) -> dict[str, float]:
    chat = f"/ws/chat/{data['conversation']}/"
    fran1_chat = await open_socket(port_a, chat, data["fran1"])
    fran1_bell = await open_socket(port_a, "/ws/notifications/", data["fran1"])
    fran2_chat = await open_socket(port_a, chat, data["fran2"])
    agent_chat = await open_socket(port_a, chat, data["agent"])
    agent_bell = await open_socket(port_a, "/ws/notifications/", data["agent"])
    timings = {}

    # 1. logout through process B: that session's sockets on A close 4401; the other session stays
    start = time.monotonic()
    assert await asyncio.to_thread(http_logout, port_b, data["fran1"]) == 302
    for name, ws in (("logout_chat", fran1_chat), ("logout_bell", fran1_bell)):
        code, timings[name], _ = await close_code(ws, since=start, name=name)
        assert code == 4401, name

    # 2. a service call elsewhere demotes the agent: 4403 on A, and no queue frame before it
    start = time.monotonic()
    await asyncio.to_thread(run_script, env, DEMOTE_AGENT)
    for name, ws in (("demote_bell", agent_bell), ("demote_chat", agent_chat)):
        code, timings[name], frames = await close_code(ws, since=start, name=name)
        assert code == 4403, name
        assert not [f for f in frames if f["type"] == "queue"]

    # 3. a move that no signal announces: the next message is refused (not stored), 4403
    await asyncio.to_thread(run_script, env, MOVE_WITHOUT_SIGNALS)
    start = time.monotonic()
    await fran2_chat.send(json.dumps({"type": "message.send", "client_id": "after-move", "body": "¿sigo?"}))
    code, timings["move_on_send"], frames = await close_code(fran2_chat, since=start, name="move_on_send")
    assert code == 4403
    assert not [f for f in frames if f["type"] == "message"]
    assert await asyncio.to_thread(run_script, env, STORED, "after-move") == "0"
    return timings
