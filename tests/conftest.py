"""Shared fixtures: franchises, users of each role and logged-in clients."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import Franchise, User
from accounts.services import save_franchise, save_user
from tests import forkserver

PASSWORD = "s3cret-Pass!"
IN_CI = os.environ.get("CI", "").lower() == "true"


# Services CI cannot provide on this kind of machine: Elasticsearch is in no registry reachable
# here (not Debian, PyPI or npm) and there is no Docker engine. Their tests run wherever the
# variable is set (e.g. `docker compose up elasticsearch` on a developer machine).
UNAVAILABLE_IN_CI = {"ELASTICSEARCH_URL"}


def require_env(name: str) -> str:
    """Value of a service URL; skip (outside CI) or fail (in CI) when it is not set."""
    value = os.environ.get(name, "")
    if not value:
        if IN_CI and name not in UNAVAILABLE_IN_CI:
            pytest.fail(f"{name} must be set in CI: no test may be skipped for lack of a service")
        if name in UNAVAILABLE_IN_CI:
            pytest.skip(
                f"{name} not set: NOT checked in CI (no Elasticsearch package or Docker engine is reachable "
                "there); run it with a real server, e.g. `docker compose up elasticsearch`"
            )
        pytest.skip(f"{name} not set: this test needs the real service (CI sets it)")
    return value


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """The browser stage runs with `-p no:asyncio`: declare pytest-asyncio's ini options then, so
    pyproject.toml's `asyncio_mode`/`asyncio_default_fixture_loop_scope` raise no "unknown option"."""
    if not pluginmanager.has_plugin("asyncio"):
        parser.addini("asyncio_mode", "pytest-asyncio's (disabled in this run)")
        parser.addini("asyncio_default_fixture_loop_scope", "pytest-asyncio's (disabled in this run)")


# --- one migrated PostgreSQL template shared by the xdist workers ----------------------------------
# pytest-django gives every worker its own test database and migrates each. On PostgreSQL the
# first worker (or the one process of a serial run) migrates a template once, named by a hash of
# the migrations (a changed migration gets a new one), and every worker clones it (CREATE
# DATABASE … TEMPLATE, about a second); the controller drops the template at the end. Each
# process drops its clone WITH (FORCE), so a connection a test left open cannot turn the
# teardown into a warning ("database is being accessed by other users").

ROOT = Path(__file__).resolve().parent.parent


def _migrations_hash() -> str:
    import django

    digest = hashlib.sha256(django.__version__.encode())
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:10]


_TEMPLATES_USED: set[str] = set()  # by this process (a serial run drops its own at the end)


def _template_name(base: str) -> str:
    return f"{base}_tpl_{_migrations_hash()}"


def _admin_sql(sql: str) -> None:
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(sql)


def _database_exists(name: str) -> bool:
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def _migrate_template(name: str) -> None:
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "support_portal.settings", "DEBUG": "true"}
    command = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)


@contextlib.contextmanager
def template_lock(template: str):
    """Held while the template is migrated or cloned: CREATE DATABASE … TEMPLATE needs it unused."""
    lock_path = Path(tempfile.gettempdir()) / f"portal-{template}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def migrated_run_template() -> str | None:
    """Name of the run's migrated PostgreSQL template this process cloned its test database from
    (None before that, or off PostgreSQL): live stacks (tests/browser/livestack.py) clone it too
    instead of migrating a template of their own (~12 s per process)."""
    return next(iter(_TEMPLATES_USED)) if len(_TEMPLATES_USED) == 1 else None


def _clone_from_template(test_name: str) -> None:
    """CREATE the worker's test database from the run's migrated template (made on first use)."""
    template = _template_name(test_name.rsplit("_gw", 1)[0])
    with template_lock(template):  # one worker migrates; clones never overlap
        if not _database_exists(template):
            _admin_sql(f'CREATE DATABASE "{template}"')
            try:
                _migrate_template(template)
            except BaseException:
                _admin_sql(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                raise
        _admin_sql(f'DROP DATABASE IF EXISTS "{test_name}" WITH (FORCE)')
        _admin_sql(f'CREATE DATABASE "{test_name}" TEMPLATE "{template}"')
        _TEMPLATES_USED.add(template)


def _is_controller(config: pytest.Config) -> bool:
    """The xdist controller (it runs no test; its workers do)."""
    return bool(getattr(config.option, "numprocesses", None)) and getattr(config, "workerinput", None) is None


def _postgres_xdist_worker(config: pytest.Config) -> bool:
    """A process that runs tests on PostgreSQL (an xdist worker or a serial run) without --reuse-db."""
    from django.db import connection

    return not _is_controller(config) and connection.vendor == "postgresql" and not config.getoption("reuse_db")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """pytest-django's (the _gwN suffix), plus the clone of the template on PostgreSQL workers."""
    if not _postgres_xdist_worker(request.config):
        yield
        return
    from django.db import connection

    test_name = connection.creation._get_test_db_name()
    with django_db_blocker.unblock():
        _clone_from_template(test_name)
    yield
    with django_db_blocker.unblock():
        connection.close()
        _admin_sql(f'DROP DATABASE IF EXISTS "{test_name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def django_db_keepdb(request, django_db_modify_db_settings) -> bool:
    """Keep (reuse) the database already cloned for this worker; else pytest-django's --reuse-db."""
    return bool(request.config.getoption("reuse_db")) or _postgres_xdist_worker(request.config)


def _children() -> dict[int, str]:
    """Live (not zombie) child processes of this process: {pid: command line}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z" and int(entry.name) != forkserver.server_pid():
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    return found


def _stop_leftover_processes(session: pytest.Session) -> None:
    """Every fixture has been torn down: a child still running was left behind by a test.

    Name it, stop it (so nothing outlives the run) and, in CI, fail the run."""
    import signal
    import time

    deadline = time.monotonic() + 10  # a child that was just told to stop may need a moment
    while (children := _children()) and time.monotonic() < deadline:
        time.sleep(0.2)  # poll interval of the wait above
    if not children:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
    for pid, command in children.items():
        if reporter is not None:
            reporter.write_line(f"process left running by a test, stopped: {pid} {command}", red=True)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if IN_CI:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _listening_ports() -> list[int]:
    """TCP ports this process itself still listens on (its open socket fds in the LISTEN state)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def _report_leftover_ports(session: pytest.Session) -> None:
    """Every fixture has been torn down: a port still listening in this process is a server a test
    left open (a webhook receiver, a fake SMTP/IMAP peer). Name it and, in CI, fail the run."""
    ports = _listening_ports()
    if not ports:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nTCP ports left listening by a test: {ports}", red=True)
    if IN_CI:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionfinish(session: pytest.Session) -> None:
    """No process or listening port left behind; then (controller or serial run) drop the run's template database."""
    config = session.config
    if not _is_controller(config):
        _stop_leftover_processes(session)
        _report_leftover_ports(session)
        forkserver.stop()
        if getattr(config, "workerinput", None) is not None:
            return  # a worker: the controller drops the template after all of them
    from django.db import connection

    if connection.vendor != "postgresql" or config.getoption("reuse_db"):
        return
    from pytest_django.plugin import blocking_manager_key

    # The controller never changed its settings; a serial run remembers the template it cloned.
    templates = _TEMPLATES_USED or {_template_name(connection.creation._get_test_db_name())}
    with config.stash[blocking_manager_key].unblock():
        for template in templates:
            _admin_sql(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    """This worker's Redis (REDIS_URL with the xdist worker's database number, tests/settings.py)."""
    return require_env("REDIS_URL")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits, presence and lockouts live in the cache: start every test clean."""
    from django.core.cache import cache

    from knowledge_base import dense, synonyms

    cache.clear()
    synonyms.invalidate()  # per-process copies of KB tables (synonyms, vectors)
    dense.invalidate()
    yield


@pytest.fixture(autouse=True)
def _portal_language():
    """Every test starts in the portal's language: a request in English (the test client runs it in
    this thread) leaves English active afterwards, and the next test would read in English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def pytest_configure(config: pytest.Config) -> None:
    forkserver.enable()  # Daphne, snippets and manage.py forked from preloaded libraries (tests/forkserver.py)
    from django.db.models.signals import post_migrate

    post_migrate.connect(_reseed_after_flush, dispatch_uid="tests-reseed-after-flush")


def _reseed_after_flush(sender, **kwargs) -> None:
    """A transactional test ends with a flush (every table emptied, then post_migrate): put back
    the rows a data migration seeds, which later tests of the worker read (the synonym list);
    the seed itself does nothing where rows exist."""
    from importlib import import_module

    from django.apps import apps

    if sender.label == "knowledge_base":
        import_module("knowledge_base.migrations.0003_synonym_group").seed(apps, None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.fixturenames.append("_end_leftover_sockets")
    _slow_modules_first(items)


def _slow_modules_first(items: list[pytest.Item]) -> None:
    """Modules with a `slow` test run first (long jobs first, as a scheduler would have them):
    xdist hands tests out in this order, and a 3-minute test collected last kept one worker busy
    alone at the end of the run. A module moves whole, so its module-scoped fixtures are built once."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow") and hasattr(item, "module")}
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "") not in slow)


LEFTOVER_GRACE = 1.0


@pytest.fixture
async def _end_leftover_sockets(monkeypatch):
    """An async test's sockets end inside its own event loop, and its channel layer with it.

    Each test has its own loop, but Channels keeps one layer object per process, and
    channels-redis keeps per-channel `asyncio.Lock`s on it. A lock contended in one test's loop is
    bound to that loop, and it outlives the test when a receive was cancelled while waiting for it
    (its wait count is never given back); the next test that contends for it failed with
    "Lock … is bound to a different event loop" (seen in CI under xdist: 4 socket tests of one
    worker at once). So every in-process socket the test opened is disconnected (a consumer that
    closed itself, 4401 or 4403, still waits for websocket.disconnect inside the layer's receive),
    and the next test gets a layer object of its own (this one's connections close with its loop).
    """
    from asgiref.testing import ApplicationCommunicator
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
    from channels.testing import WebsocketCommunicator

    opened: list[ApplicationCommunicator] = []
    original_init = ApplicationCommunicator.__init__

    def tracked_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(ApplicationCommunicator, "__init__", tracked_init)
    yield
    # A consumer gets LEFTOVER_GRACE seconds to run its disconnect handler; then it is cancelled
    # (asgiref's wait() does that on its timeout). Not longer: after a consumer closed itself, the
    # cancellation of its pending channels-redis receive is not delivered until the consumer task
    # itself is cancelled, so a longer grace was 5 s of nothing per such socket (6 tests, 52 s).
    for communicator in opened:
        if communicator.future.done():
            continue
        with contextlib.suppress(Exception):  # the test already passed or failed; this only ends it
            if isinstance(communicator, WebsocketCommunicator):
                await communicator.disconnect(timeout=LEFTOVER_GRACE)
            else:
                await communicator.wait(timeout=LEFTOVER_GRACE)
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture(autouse=True)
def _no_creation_limits(settings):
    """Ticket/comment creation limits off unless a test sets them (many tests create dozens of rows
    in a loop); tests/test_security_submissions.py tests the limits with their own values."""
    settings.TICKET_CREATE_RATE = settings.COMMENT_CREATE_RATE = "0"


@pytest.fixture
def centro(db) -> Franchise:
    return save_franchise(code="centro", name="Franquicia Centro")[0]


@pytest.fixture
def norte(db) -> Franchise:
    return save_franchise(code="norte", name="Franquicia Norte")[0]


@pytest.fixture
def franchisee(centro) -> User:
    return save_user(username="fran_centro", role="franchisee", franchise=centro, password=PASSWORD)[0]


@pytest.fixture
def other_franchisee(norte) -> User:
    return save_user(username="fran_norte", role="franchisee", franchise=norte, password=PASSWORD)[0]


@pytest.fixture
def agent(db) -> User:
    return save_user(username="agent_a", role="agent", password=PASSWORD, first_name="Ana")[0]


@pytest.fixture
def agent2(db) -> User:
    return save_user(username="agent_b", role="agent", password=PASSWORD, first_name="Bea")[0]


@pytest.fixture
def supervisor(db) -> User:
    return save_user(username="boss", role="supervisor", password=PASSWORD)[0]


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def franchisee_client(franchisee) -> Client:
    return _client_for(franchisee)


@pytest.fixture
def other_franchisee_client(other_franchisee) -> Client:
    return _client_for(other_franchisee)


@pytest.fixture
def agent_client(agent) -> Client:
    return _client_for(agent)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return _client_for(supervisor)
