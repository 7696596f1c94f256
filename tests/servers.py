"""Helpers for tests and benchmarks that talk to real servers: start Daphne on a free port and
wait until it answers, and make a logged-in session cookie for a user."""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests import forkserver

ROOT = Path(__file__).resolve().parent.parent
# How long a server may take to start: seconds on a quiet machine, more than 30 s was seen with
# both cores busy (stress-ng --cpu 2 and other suites). The wait ends as soon as it answers.
START_TIMEOUT = 120.0
DAPHNE = str(Path(sys.executable).with_name("daphne"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(port: int, *, path: str = "/healthz", timeout: float = START_TIMEOUT, proc=None) -> None:
    """Poll http://127.0.0.1:port<path> until it answers at all (any HTTP status)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}{path}"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answered (e.g. 503 from /healthz): it is up
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server on port {port} not ready after {timeout} s")


@contextlib.contextmanager
def daphne(
    env: dict[str, str],
    *,
    app: str = "support_portal.asgi:application",
    port: int | None = None,
    nofile: int | None = None,
    ready_path: str = "/healthz",
    log_path: str | os.PathLike | None = None,
) -> Iterator[tuple[int, subprocess.Popen]]:
    """Run `daphne app` on a free port with `env` added to this environment; yields (port, process).

    `nofile` raises the open-files limit of the spawned process (`ulimit -n`).
    """
    port = port or free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    command = [DAPHNE, "-b", "127.0.0.1", "-p", str(port), app]
    if nofile:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
        command = ["bash", "-c", f'ulimit -n {int(nofile)} && exec "$@"', "daphne", *command]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = forkserver.popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(port, path=ready_path, proc=proc)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def session_cookie(user) -> str:
    """A `sessionid` value of a logged-in session for `user`, stored in the current database."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def ws_headers(cookie: str, origin: str = "http://127.0.0.1") -> list[tuple[bytes, bytes]]:
    """ASGI headers of a browser socket: session cookie and an allowed Origin."""
    return [(b"origin", origin.encode()), (b"cookie", f"sessionid={cookie}".encode()), (b"host", b"127.0.0.1")]


_SQLITE_TEMPLATE: list[Path] = []  # this process's migrated SQLite file, made on first use


def sqlite_template() -> Path:
    """A SQLite file migrated once per test process (removed at exit): the source of every copy.

    Each cross-process test used to run `manage.py migrate` on its own file (5–10 s of CPU each);
    a copy of this file is the same schema and data, made in the same run from the same migrations.
    """
    if _SQLITE_TEMPLATE:
        return _SQLITE_TEMPLATE[0]
    folder = Path(tempfile.mkdtemp(prefix="portal-sqlite-tpl-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "support_portal.settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{path}",
        "WHOOSH_PATH": str(folder / "whoosh"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)
    _SQLITE_TEMPLATE.append(path)
    return path


def migrated_sqlite(path: Path) -> str:
    """DATABASE_URL of a fresh migrated SQLite database at `path` (a copy of `sqlite_template()`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(), path)
    return f"sqlite:///{path}"


def cross_process_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """Environment of server processes that share one migrated SQLite file and one Redis
    (cross-process tests)."""
    return {
        "DEBUG": "true",
        "REDIS_URL": redis_url,
        "DATABASE_URL": migrated_sqlite(tmp_path / "shared.sqlite3"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    }
