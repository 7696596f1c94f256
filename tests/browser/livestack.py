"""Real processes for the browser and reliability tests: a migrated database, Daphne, Redis, Celery.

Nothing here touches the pytest-django test database: every live stack gets its own database (a
copy of a SQLite file migrated once per test run, or a fresh PostgreSQL database cloned from a
migrated template when DATABASE_URL points at PostgreSQL). The test process reads and writes it
only through the processes it starts (HTTP, WebSocket, `run_django` snippets), exactly like a user
or an operator would — so it works the same on SQLite and PostgreSQL, with pytest-asyncio or without.
"""

from __future__ import annotations

import atexit
import contextlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests import forkserver
from tests.servers import START_TIMEOUT, daphne, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "Live-pass-2024!"
PRODUCTION_SECRET = "live-stack-production-mode-" + "k3Y9" * 12
HOST = "127.0.0.1"
# Environment variables of the developer's shell or CI that must not leak into a live stack.
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "ELASTICSEARCH_URL",
    "EMAIL_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "SECRET_KEY",
    "WHOOSH_PATH",
    "MEDIA_ROOT",
)


def wait_for_port(port: int, timeout: float = START_TIMEOUT, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout} s")


def base_env(**extra: str) -> dict[str, str]:
    """os.environ with the service variables blanked (unset = embedded default), plus `extra`."""
    env = {**os.environ, **dict.fromkeys(SERVICE_VARS, "")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.browser.live_settings",
        DEBUG="true",
        ALLOWED_HOSTS=f"{HOST},localhost",
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="memory://localhost/",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    out = forkserver.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def run_django(env: dict[str, str], code: str, **params) -> object:
    """Run `code` in a Django process with `env`; it sets `result`, returned as JSON (see LiveStack.run_django)."""
    program = (
        "import django, json, sys\n"
        "django.setup()\n"
        "params = json.loads(sys.stdin.read())\n"
        "result = None\n" + code + "\nprint('@@RESULT@@' + json.dumps(result, default=str))\n"
    )
    out = forkserver.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        input=json.dumps(params),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"snippet failed:\n{code}\n{out.stderr[-4000:]}")
    line = next(line for line in reversed(out.stdout.splitlines()) if line.startswith("@@RESULT@@"))
    return json.loads(line.removeprefix("@@RESULT@@"))


# --- databases -------------------------------------------------------------------------------

_TEMPLATES: dict[str, str] = {}
_SEEDED_PEOPLE: dict[str, dict[str, int]] = {}


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def _with_db_name(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def _migrated_template(work_dir: Path) -> str:
    """DATABASE_URL of a database migrated once per test process (the template of every copy)."""
    key = "pg" if _postgres_url() else "sqlite"
    if key in _TEMPLATES:
        return _TEMPLATES[key]
    pg = _postgres_url()
    if pg:
        name = f"live_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _pg_admin(pg, f'CREATE DATABASE "{name}"')
        url = _with_db_name(pg, name)
    else:
        path = Path(tempfile.mkdtemp(prefix="live-db-tpl-")) / "template.sqlite3"
        url = f"sqlite:///{path}"
    manage(base_env(DATABASE_URL=url, WHOOSH_PATH=str(work_dir / "whoosh-tpl")), "migrate", "--noinput")
    if not _TEMPLATES:
        atexit.register(drop_templates)
    _TEMPLATES[key] = url
    return url


def _run_template() -> str | None:
    """The unit suite's migrated template of this run (tests/conftest.py), once this process has
    cloned its own test database from it; the same migrations, so a stack needs no template of its own."""
    with contextlib.suppress(ImportError):
        from tests.conftest import migrated_run_template

        return migrated_run_template()
    return None


def _clone_pg(pg: str, template_name: str) -> tuple[str, Callable[[], None]]:
    """CREATE DATABASE … TEMPLATE template_name: (DATABASE_URL, drop function)."""
    name = f"live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_admin(pg, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')

    def drop() -> None:
        with contextlib.suppress(Exception):
            _pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return _with_db_name(pg, name), drop


def _migrated_database(work_dir: Path) -> tuple[str, Callable[[], None]]:
    """A fresh migrated database: (DATABASE_URL, drop function)."""
    pg = _postgres_url()
    run_template = _run_template() if pg else None
    if pg and run_template:
        import psycopg

        from tests.conftest import template_lock

        # Gone if another pytest process on the same DATABASE_URL ended meanwhile (its end drops
        # the template of that name): then this process migrates a template of its own, as before.
        with template_lock(run_template), contextlib.suppress(psycopg.errors.InvalidCatalogName):
            return _clone_pg(pg, run_template)
    template = _migrated_template(work_dir)
    if pg:
        return _clone_pg(pg, urllib.parse.urlsplit(template).path.lstrip("/"))
    path = work_dir / "db.sqlite3"
    shutil.copyfile(template.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}", lambda: None


def _seeded_template(work_dir: Path) -> tuple[str, dict[str, int]]:
    """(DATABASE_URL, people) of a migrated database with SEED_PEOPLE's franchises and users in it,
    made once per test process: a stack cloned from it starts with them (no Django snippet each)."""
    key = "pg-seeded" if _postgres_url() else "sqlite-seeded"
    if key not in _TEMPLATES:
        seed_dir = Path(tempfile.mkdtemp(prefix="live-seed-"))
        url, _ = _migrated_database(seed_dir)  # dropped by drop_templates()
        env = base_env(
            DATABASE_URL=url,
            WHOOSH_PATH=str(seed_dir / "whoosh"),
            MEDIA_ROOT=str(seed_dir / "media"),
            LIVE_EMAIL_DIR=str(seed_dir / "mail"),
        )
        _SEEDED_PEOPLE[key] = run_django(env, SEED_PEOPLE, password=PASSWORD, names={})
        shutil.rmtree(seed_dir / "whoosh", ignore_errors=True)
        if not _TEMPLATES:
            atexit.register(drop_templates)
        _TEMPLATES[key] = url
    return _TEMPLATES[key], dict(_SEEDED_PEOPLE[key])


def new_database(work_dir: Path, *, seeded: bool = False) -> tuple[str, Callable[[], None]]:
    """A fresh migrated database: (DATABASE_URL, drop function). `seeded`: with SEED_PEOPLE's data."""
    if not seeded:
        return _migrated_database(work_dir)
    template = _seeded_template(work_dir)[0]
    pg = _postgres_url()
    if pg:
        return _clone_pg(pg, urllib.parse.urlsplit(template).path.lstrip("/"))
    path = work_dir / "db.sqlite3"
    shutil.copyfile(template.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}", lambda: None


def drop_templates() -> None:
    """Remove the per-process template databases (called at the end of the test session)."""
    pg = _postgres_url()
    for key in ("pg-seeded", "pg"):  # the seeded copy first (no clone may be made while it is read)
        url = _TEMPLATES.pop(key, None)
        if pg and url:
            name = urllib.parse.urlsplit(url).path.lstrip("/")
            with contextlib.suppress(Exception):
                _pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for key in ("sqlite-seeded", "sqlite"):
        url = _TEMPLATES.pop(key, None)
        if url:
            shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)
    _SEEDED_PEOPLE.clear()


# --- static files of production-mode stacks ------------------------------------------------------

_STATIC_ROOT: list[Path] = []
_COLLECTED: list[bool] = []


def _static_root() -> Path:
    """This process's STATIC_ROOT for production-mode stacks (a temporary folder removed at exit)."""
    if not _STATIC_ROOT:
        folder = Path(tempfile.mkdtemp(prefix="live-static-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _STATIC_ROOT.append(folder / "static")
    return _STATIC_ROOT[0]


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Process:
    """A child process with its log file; stop() ends it (and only it)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> Process:
        log = self.log_path.open("ab")
        self.popen = forkserver.popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait and self.port:
            try:
                wait_for_port(self.port, process=self.popen)
            except Exception as exc:
                raise RuntimeError(f"{self.name} did not start:\n{self.log()}") from exc
        return self

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return bool(self.popen and self.popen.poll() is None)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


class DaphneProcess:
    """One Daphne server (started through tests.servers.daphne) that can be killed and restarted."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.name, self.port, self.log_path = f"daphne:{port}", port, log_path
        self._context = daphne(env, port=port, log_path=log_path)
        _, self.popen = self._context.__enter__()

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        self.popen.kill()
        self.stop()

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


@dataclass
class LiveStack:
    """A database, N Daphne processes, and optionally Redis and a Celery worker.

    Without Redis the one Daphne process uses the in-memory channel layer and eager Celery (the
    embedded default); with Redis every process shares it (channel layer, cache, Celery broker).
    """

    work_dir: Path
    daphne_count: int = 1
    redis: bool = False
    production: bool = False
    env_extra: dict[str, str] = field(default_factory=dict)
    # seed: start from a copy of a template that already holds SEED_PEOPLE's franchises and users
    # (`people` is set at start; what seed_people() makes, without a Django process per stack).
    seed: bool = False
    database_url: str = ""
    redis_port: int | None = None
    daphnes: list[DaphneProcess] = field(default_factory=list)
    worker: Process | None = None
    redis_process: Process | None = None
    people: dict[str, int] = field(default_factory=dict)  # username -> id, after seed_people()
    conversation: int | None = None  # set by tests that open one
    _drop_db: Callable[[], None] | None = None

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> LiveStack:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.database_url, self._drop_db = new_database(self.work_dir, seeded=self.seed)
        if self.seed:
            self.people = _seeded_template(self.work_dir)[1]
        if self.redis:
            self.redis_port = free_port()
            self.start_redis()
        if self.production:
            self._collect_static()
        for _ in range(self.daphne_count):
            self.daphnes.append(self._daphne(free_port()))
        return self

    def stop(self) -> None:
        for process in [*self.daphnes, self.worker, self.redis_process]:
            if process is not None:
                process.stop()
        if self._drop_db:
            self._drop_db()

    @property
    def env(self) -> dict[str, str]:
        extra = {
            "DATABASE_URL": self.database_url,
            "WHOOSH_PATH": str(self.work_dir / "whoosh"),
            "MEDIA_ROOT": str(self.work_dir / "media"),
            "LIVE_EMAIL_DIR": str(self.work_dir / "mail"),
        }
        if self.redis:
            extra.update(REDIS_URL=self.redis_url, CELERY_BROKER_URL=self.redis_url, CELERY_TASK_ALWAYS_EAGER="false")
        if self.production:
            # Production values: DEBUG off, HTTPS only (the tests send X-Forwarded-Proto: https as
            # the TLS-terminating proxy would), Secure cookies, HSTS, hashed static files.
            extra.update(DEBUG="false", SECRET_KEY=PRODUCTION_SECRET, LIVE_STATIC_ROOT=str(_static_root()))
        extra.update(self.env_extra)
        return base_env(**extra)

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    @property
    def url(self) -> str:
        return self.url_of(0)

    def url_of(self, index: int) -> str:
        return f"http://{HOST}:{self.daphnes[index].port}"

    def ws_url(self, path: str, index: int = 0) -> str:
        return f"ws://{HOST}:{self.daphnes[index].port}{path}"

    # parts -------------------------------------------------------------------------------------
    def _collect_static(self) -> None:
        """`collectstatic` (hashed files, DEBUG off) once per test process: production stacks of
        one run serve the same checkout's files, read-only, from one folder."""
        if not _COLLECTED:
            self.manage("collectstatic", "--noinput", "--verbosity", "0")
            _COLLECTED.append(True)

    def _daphne(self, port: int) -> DaphneProcess:
        return DaphneProcess(self.env, port, self.work_dir / f"daphne-{port}.log")

    def restart_daphne(self, index: int = 0, *, kill: bool = True) -> None:
        """Kill (SIGKILL) or stop one Daphne process and start it again on the same port."""
        process = self.daphnes[index]
        process.kill() if kill else process.stop()
        self.daphnes[index] = self._daphne(process.port)

    def start_redis(self) -> None:
        args = [
            "redis-server",
            "--bind",
            HOST,
            "--port",
            str(self.redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.work_dir),
        ]
        log = self.work_dir / "redis.log"
        self.redis_process = Process("redis", args, dict(os.environ), log, port=self.redis_port).start()

    def stop_redis(self) -> None:
        if self.redis_process:
            self.redis_process.kill()

    def start_worker(self) -> Process:
        args = [
            str(BIN / "celery"),
            "-A",
            "support_portal",
            "worker",
            "-P",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
        env = {**self.env, "C_FORCE_ROOT": "1"}
        self.worker = Process("celery", args, env, self.work_dir / "celery.log").start(wait=False)
        return self.worker

    def stop_worker(self) -> None:
        if self.worker:
            self.worker.stop()

    def logs(self) -> str:
        parts = [f"--- {p.name} ---\n{p.log()}" for p in [*self.daphnes, self.worker] if p is not None]
        return "\n".join(parts)

    # data through Django itself -----------------------------------------------------------------
    def run_django(self, code: str, **params) -> object:
        """Run `code` in a Django shell of this stack; it sets `result`, returned as JSON.

        `params` are available to the code as the dict `params`.
        """
        return run_django(self.env, code, **params)

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def seed_people(self, **names: str) -> dict[str, int]:
        """Franchises Centro and Norte and one user per role (password PASSWORD): {username: id}.

        `names` may override display names (the XSS suite puts payloads there).
        """
        return self.run_django(SEED_PEOPLE, password=PASSWORD, names=names)


SEED_PEOPLE = """
from accounts.services import save_franchise, save_user
names = params["names"]
centro = save_franchise(code="centro", name=names.get("centro", "Franquicia Centro"))[0]
norte = save_franchise(code="norte", name=names.get("norte", "Franquicia Norte"))[0]
people = [
    ("fran_centro", "franchisee", centro, names.get("fran_centro", "Carmen")),
    ("fran_norte", "franchisee", norte, names.get("fran_norte", "Nuria")),
    ("agent_a", "agent", None, names.get("agent_a", "Ana")),
    ("agent_b", "agent", None, names.get("agent_b", "Bea")),
    ("boss", "supervisor", None, names.get("boss", "Sara")),
]
result = {}
for username, role, franchise, first_name in people:
    user = save_user(username=username, role=role, franchise=franchise, password=params["password"],
                     first_name=first_name, email=username + "@example.com")[0]
    result[username] = user.pk
"""


# --- a small HTTP client with a cookie jar and CSRF handling --------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> object:
        return json.loads(self.body)


class _TrustProxyPolicy(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie, request) -> bool:
        return True


class HttpSession:
    """A browser-like client of one live server: cookies, CSRF token, no automatic redirects."""

    def __init__(self, base_url: str, *, behind_tls_proxy: bool = False) -> None:
        """`behind_tls_proxy`: send what a TLS-terminating proxy adds (X-Forwarded-Proto: https)
        and keep sending Secure cookies, as the browser on the other side of the proxy does."""
        self.base_url = base_url.rstrip("/")
        self.public_url = self.base_url.replace("http://", "https://") if behind_tls_proxy else self.base_url
        self.headers = {"X-Forwarded-Proto": "https"} if behind_tls_proxy else {}
        self.jar = http.cookiejar.CookieJar(_TrustProxyPolicy() if behind_tls_proxy else None)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> HttpResponse:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        request.add_header("Referer", self.public_url + "/")
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=30) as response:
                cookies = response.headers.get_all("Set-Cookie") or []
                return HttpResponse(response.status, dict(response.headers), response.read(), cookies)
        except urllib.error.HTTPError as error:
            cookies = error.headers.get_all("Set-Cookie") or []
            return HttpResponse(error.code, dict(error.headers), error.read(), cookies)

    def get(self, path: str) -> HttpResponse:
        return self.request("GET", path)

    def post(self, path: str, data: dict | None = None) -> HttpResponse:
        """A form post with the CSRF token (read from the cookie, fetched first when missing)."""
        if not self.cookie("csrftoken"):
            self.get("/accounts/login/")
        payload = {"csrfmiddlewaretoken": self.cookie("csrftoken"), **(data or {})}
        return self.request("POST", path, payload)

    def login(self, username: str, password: str = PASSWORD) -> HttpSession:
        response = self.post("/accounts/login/", {"username": username, "password": password})
        if response.status != 302:
            raise AssertionError(f"login of {username} failed: {response.status}")
        return self

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    @property
    def origin(self) -> str:
        return self.public_url
