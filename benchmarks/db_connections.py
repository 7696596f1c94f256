"""Database connections under concurrency: many HTTP clients and chat sockets against Daphne
processes on PostgreSQL, with `pg_stat_activity` sampled all along (docs/PERFORMANCE.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_x REDIS_URL=redis://127.0.0.1:6383/5 \\
        .venv/bin/python benchmarks/db_connections.py --processes 2 --clients 50 --sockets 30 \\
        [--pgbouncer] [--set DB_POOL_MAX=4 ...]

The test tests/test_db_connections.py drives the same functions against its test database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RETRY_AFTER = 15.0  # seconds without an acknowledgement before a client resends
BUSY_RETRY = (2.0, 5.0)  # a message refused `busy` is resent after 2–5 s (chat/static/chat/chat.js)
PAGES = ("/", "/tickets/", "/notifications/", "/kb/", "/chat/")


@dataclass
class Load:
    """What the clients saw and the most connections the database held meanwhile."""

    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    messages_acked: int = 0
    retries: int = 0
    busy: int = 0  # messages refused with `busy` (admission control): resent later, as chat.js does
    socket_errors: list[str] = field(default_factory=list)
    max_connections: int = 0
    samples: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> dict:
        return {
            "requests": sum(self.statuses.values()),
            "statuses": dict(sorted(self.statuses.items())),
            "5xx": self.server_errors,
            "client_errors": self.errors[:5],
            "messages_acked": self.messages_acked,
            "retries": self.retries,
            "busy": self.busy,
            "socket_errors": self.socket_errors[:5],
            "max_connections": self.max_connections,
            "samples": self.samples,
        }


def libpq_url(database_url: str) -> str:
    return database_url.replace("postgres://", "postgresql://", 1)


# --- data ------------------------------------------------------------------------------------


def seed(count: int) -> dict:
    """`count` franchisees, each with a session and an active chat with one agent (Django set up)."""
    from accounts.services import save_franchise, save_user
    from chat import services
    from tests.servers import session_cookie

    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    agent = save_user(username="pool_agent", role="agent", password="Pool-Bench-9!")[0]
    users = []
    for number in range(count):
        fran = save_user(username=f"pool_fran_{number}", role="franchisee", franchise=centro)[0]
        conversation = services.start_conversation(franchisee=fran, topic=f"Conexiones {number}")
        services.accept_conversation(conversation_id=conversation.pk, agent=agent)
        users.append({"cookie": session_cookie(fran), "conversation": conversation.pk})
    return {"users": users, "agent": session_cookie(agent)}


# --- sampling --------------------------------------------------------------------------------


COUNT_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    " AND backend_type = 'client backend' AND application_name <> %s"
)


@contextlib.contextmanager
def sample_connections(database_url: str, load: Load, *, exclude_app: str, every: float = 0.05) -> Iterator[None]:
    """Count the database's connections (but ours and `exclude_app`'s) until the block ends."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    stop = threading.Event()
    conn = psycopg.connect(libpq_url(database_url), autocommit=True, application_name="connection-sampler")

    def run() -> None:
        while not stop.is_set():
            count = conn.execute(COUNT_SQL, [name, exclude_app]).fetchone()[0]
            load.max_connections = max(load.max_connections, count)
            load.samples += 1
            stop.wait(every)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
        conn.close()


# --- clients ---------------------------------------------------------------------------------


def http_clients(ports: list[int], users: list[dict], load: Load, *, clients: int, seconds: float) -> None:
    """`clients` threads, each a logged-in franchisee looping over PAGES for `seconds`."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def client(number: int) -> None:
        user = users[number % len(users)]
        port = ports[number % len(ports)]
        step = number
        while time.monotonic() < deadline:
            path = PAGES[step % len(PAGES)]
            step += 1
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"sessionid={user['cookie']}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                with lock:
                    load.errors.append(f"{path}: {exc!r}")
                continue
            with lock:
                load.statuses[status] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def _socket_client(port: int, user: dict, load: Load, messages: int) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/chat/{user['conversation']}/"
    async with connect(
        url, origin=f"http://127.0.0.1:{port}", additional_headers={"Cookie": f"sessionid={user['cookie']}"}
    ) as ws:
        pending: set[str] = set()

        async def send(client_id: str) -> None:
            await ws.send(json.dumps({"type": "message.send", "client_id": client_id, "body": "hola " + client_id}))

        for _ in range(messages):
            client_id = str(uuid.uuid4())
            pending.add(client_id)
            await send(client_id)
        deadline = time.monotonic() + 60
        retry_at = time.monotonic() + RETRY_AFTER
        while pending and time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(min(deadline, retry_at) - time.monotonic(), 0.1))
            except TimeoutError:
                # as chat.js does: resend what is unacknowledged with the same client_id (stored once)
                for client_id in pending:
                    load.retries += 1
                    await send(client_id)
                retry_at = time.monotonic() + RETRY_AFTER
                continue
            frame = json.loads(raw)
            if frame["type"] == "message" and frame.get("client_id") in pending:
                pending.discard(frame["client_id"])
                load.messages_acked += 1
            elif frame["type"] == "error" and frame.get("code") == "busy":
                # refused at once, nothing stored: chat.js sends its outbox again after 2–5 s (the
                # 15 s timer is for a message that got no answer at all)
                load.busy += 1
                retry_at = min(retry_at, time.monotonic() + random.uniform(*BUSY_RETRY))
            elif frame["type"] == "error":
                load.socket_errors.append(json.dumps(frame))
        if pending:
            load.socket_errors.append(f"{len(pending)} messages not acknowledged on {url}")


async def socket_clients(ports: list[int], users: list[dict], load: Load, *, sockets: int, messages: int) -> None:
    """`sockets` chat sockets at once, each sending `messages` messages and awaiting their echoes."""

    async def one(number: int) -> None:
        try:
            await _socket_client(ports[number % len(ports)], users[number % len(users)], load, messages)
        except Exception as exc:  # noqa: BLE001 - a dropped socket is a result to report
            load.socket_errors.append(f"socket {number}: {exc!r}")

    await asyncio.gather(*(one(n) for n in range(sockets)))


def run_load(
    database_url: str,
    ports: list[int],
    data: dict,
    *,
    clients: int,
    sockets: int,
    seconds: float,
    messages: int,
    exclude_app: str,
) -> Load:
    """HTTP clients and chat sockets at the same time; the connection count sampled throughout."""
    load = Load()
    with sample_connections(database_url, load, exclude_app=exclude_app):
        http = threading.Thread(
            target=http_clients, args=(ports, data["users"], load), kwargs={"clients": clients, "seconds": seconds}
        )
        http.start()
        if sockets:
            asyncio.run(socket_clients(ports, data["users"], load, sockets=sockets, messages=messages))
        http.join()
    return load


# --- PgBouncer -------------------------------------------------------------------------------


@contextlib.contextmanager
def pgbouncer(database_url: str, *, pool_size: int) -> Iterator[str]:
    """A PgBouncer (transaction pooling) in front of `database_url`; yields the URL through it."""
    import subprocess
    import tempfile

    from deploy import stack
    from tests.servers import free_port

    port = free_port()
    parts = urlsplit(database_url)
    # under /tmp, not pytest's private tmp_path: as root PgBouncer runs as `nobody`
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as run_dir:
        Path(run_dir).chmod(0o755)
        ini = stack.write_pgbouncer_ini(
            Path(run_dir),
            listen_port=port,
            server_host=parts.hostname or "127.0.0.1",
            server_port=parts.port or 5432,
            server_user=parts.username or "postgres",
            pool_size=pool_size,
        )
        proc = subprocess.Popen(stack.pgbouncer_command(ini), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            stack.wait_for_port(port, process=proc)
            yield stack.through_pgbouncer(database_url, port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sockets", type=int, default=30)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--pgbouncer", action="store_true", help="put a PgBouncer in front of PostgreSQL")
    parser.add_argument("--pgbouncer-pool", type=int, default=6, help="server connections PgBouncer keeps")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="Daphne environment")
    args = parser.parse_args(argv)

    database_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["DB_APPLICATION_NAME"] = "db-connections-setup"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    data = seed(max(args.clients, args.sockets))
    from django.db import connections

    connections.close_all()
    from tests.servers import daphne

    tag = f"db-connections-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack_:
        served_url = database_url
        if args.pgbouncer:
            served_url = stack_.enter_context(pgbouncer(database_url, pool_size=args.pgbouncer_pool))
        env = {
            "DEBUG": "true",
            "DATABASE_URL": served_url,
            "REDIS_URL": redis_url,
            "DB_APPLICATION_NAME": tag,
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_LEVEL": "ERROR",
            **dict(item.split("=", 1) for item in args.set),
        }
        if args.pgbouncer:
            env.setdefault("PGBOUNCER", "true")
        ports = [stack_.enter_context(daphne(env))[0] for _ in range(args.processes)]
        load = run_load(
            database_url,
            ports,
            data,
            clients=args.clients,
            sockets=args.sockets,
            seconds=args.seconds,
            messages=args.messages,
            exclude_app="db-connections-setup",
        )
    print(json.dumps({"processes": args.processes, "pgbouncer": args.pgbouncer, "env": args.set, **load.summary()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
