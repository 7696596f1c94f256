"""Bounded database connections: two Daphne processes on PostgreSQL under 50 concurrent HTTP
clients and many chat sockets hold no more than their configured connections and answer no 5xx.

Both ways of bounding are driven: each process's psycopg pool (DB_POOL_MAX) straight to
PostgreSQL, and PgBouncer (transaction pooling) in front of it as in the scale-out stack.
The counts come from `pg_stat_activity` of this test's database (benchmarks/db_connections.py).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from benchmarks import db_connections as bench
from chat.models import Message
from tests.conftest import IN_CI, require_env
from tests.servers import daphne

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROCESSES = 2
POOL_MAX = 4  # per process: small, the test server is shared (max_connections=100)
CLIENTS = 50
SOCKETS = 30
MESSAGES = 4


@pytest.fixture
def served(tmp_path):
    """(database URL of the test database, env for Daphne, seeded users)."""
    require_env("DATABASE_URL")
    redis_url = require_env("REDIS_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")
    db = settings.DATABASES["default"]
    netloc = f"{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}" if db["USER"] else f"{db['HOST']}:{db['PORT'] or 5432}"
    url = urlunsplit(("postgres", netloc, f"/{db['NAME']}", "", ""))
    data = bench.seed(max(CLIENTS, SOCKETS))
    tag = f"conn-test-{uuid.uuid4().hex[:8]}"
    env = {
        "DEBUG": "true",
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "DB_APPLICATION_NAME": tag,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "ERROR",
    }
    return url, env, data


def _drive(url: str, env: dict, data: dict, tmp_path, *, mixed: bool = False) -> tuple[bench.Load, bench.Load]:
    """50 HTTP clients and 30 chat sockets each sending messages: one after the other, or at the
    same time (`mixed`). With the process pool alone, sockets opened while HTTP saturates the
    pool queue behind whole requests (docs/PERFORMANCE.md "Database connections")."""
    ours = settings.DATABASES["default"]["OPTIONS"].get("application_name", "")
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(daphne(env, log_path=tmp_path / f"daphne{n}.log"))[0] for n in range(PROCESSES)]
        run = functools.partial(bench.run_load, url, ports, data, exclude_app=ours)
        if mixed:
            both = run(clients=CLIENTS, sockets=SOCKETS, seconds=8, messages=MESSAGES)
            return both, both
        pages = run(clients=CLIENTS, sockets=0, seconds=8, messages=0)
        sockets = run(clients=0, sockets=SOCKETS, seconds=0, messages=MESSAGES)
    return pages, sockets


def _assert_healthy(loads: tuple[bench.Load, bench.Load], bound: int, tmp_path) -> None:
    pages, sockets = loads
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("daphne*.log"))
    for load in {id(x): x for x in loads}.values():
        assert load.samples > 5, load.summary()
        assert 0 < load.max_connections <= bound, load.summary()
    assert sum(pages.statuses.values()) >= CLIENTS, pages.summary()
    assert pages.server_errors == 0, (pages.summary(), logs)
    assert not pages.errors, pages.summary()
    assert not sockets.socket_errors, (sockets.summary(), logs)
    assert sockets.messages_acked == SOCKETS * MESSAGES, sockets.summary()
    # stored once each, retries included
    assert Message.objects.filter(author__username__startswith="pool_fran_").count() == SOCKETS * MESSAGES


def test_psycopg_pool_bounds_each_process(served, tmp_path):
    url, env, data = served
    env = {**env, "DB_POOL_MAX": str(POOL_MAX), "DB_POOL_MIN": "1"}
    load = _drive(url, env, data, tmp_path)
    _assert_healthy(load, PROCESSES * POOL_MAX, tmp_path)


def test_pgbouncer_bounds_the_server_connections(served, tmp_path):
    if not (shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists()):
        if IN_CI:
            pytest.fail("pgbouncer (Debian package) must be installed in CI")
        pytest.skip("pgbouncer is not installed")
    url, env, data = served
    pool = 3
    with bench.pgbouncer(url, pool_size=pool) as bounced:
        # as in the stack: no app pool, each thread keeps its client connection to PgBouncer,
        # which queues per transaction over `pool` server connections; pages and sockets at once
        env = {**env, "DATABASE_URL": bounced, "PGBOUNCER": "true", "DB_POOL_MAX": "0", "CONN_MAX_AGE": "60"}
        loads = _drive(url, env, data, tmp_path, mixed=True)
    _assert_healthy(loads, pool, tmp_path)
