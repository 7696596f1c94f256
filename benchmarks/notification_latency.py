"""Notification latency: notify() in this process → frame on a real browser-like WebSocket.

What runs: a Daphne process serving the portal on a free port with the Redis channel layer;
a websocket client logged in through a real session cookie (and an allowed Origin header)
connected to /ws/notifications/; this process calls notifications.services.notify() with
the same REDIS_URL and database, and times each call until its frame arrives.

    .venv/bin/python benchmarks/notification_latency.py [--quick] [--count N]

REDIS_URL: used when set, otherwise a throwaway redis-server is started on a free port.
DATABASE_URL: a PostgreSQL URL (e.g. .../bench_notifications) when set, otherwise a throwaway
SQLite file. Prints one JSON object (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(values: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(values, 50), 2),
        "p90_ms": round(percentile(values, 90), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def start_redis(workdir: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}/0", process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 notifications instead of 1,000")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 1000)

    workdir = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    children: list[subprocess.Popen] = []
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        redis_url, redis_process = start_redis(workdir)
        children.append(redis_process)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
    port = free_port()
    os.environ.update(
        {
            "DEBUG": "true",
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "support_portal.settings",
        }
    )
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client
        from websockets.sync.client import connect

        from accounts.models import User
        from notifications import kinds
        from notifications.models import Notification
        from notifications.services import notify

        call_command("migrate", verbosity=0)
        user, _ = User.objects.get_or_create(username="bench_latency", defaults={"role": "agent"})
        Notification.objects.filter(recipient=user).delete()
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

        daphne = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "support_portal.asgi:application",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        children.append(daphne)
        wait_for_port(port)

        service_ms: list[float] = []
        end_to_end_ms: list[float] = []
        with connect(
            f"ws://127.0.0.1:{port}/ws/notifications/",
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
            open_timeout=10,
        ) as websocket:
            for i in range(count + 20):  # the first 20 warm up connections and caches
                start = time.perf_counter()
                notification = notify(recipient=user, kind=kinds.CHAT_MESSAGE, title=f"Aviso {i}", url="/chat/")
                returned = time.perf_counter()
                frame = json.loads(websocket.recv(timeout=5))
                arrived = time.perf_counter()
                if frame.get("id") != notification.pk:
                    raise RuntimeError(f"frame out of order: {frame!r}")
                if i >= 20:
                    service_ms.append((returned - start) * 1000)
                    end_to_end_ms.append((arrived - start) * 1000)

        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        result = {
            "benchmark": "notification_latency",
            "notifications": count,
            "channel_layer": "redis",
            "database": database,
            "end_to_end": summary(end_to_end_ms),
            "notify_call": summary(service_ms),
            "load_average_1m": round(os.getloadavg()[0], 2),  # the machine is shared: context for the figures
            "goal_p99_ms": 50,
            "goal_met": percentile(end_to_end_ms, 99) < 50,
        }
        print(json.dumps(result, indent=2))
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
