"""Notification fan-out and ticket creation as the support team grows (issue 13).

What runs, in this process, on the Redis channel layer and the given database:
- `notify_many()` to N agents (one bulk INSERT, one unread-count query after commit, the pushes in
  one batch: support_portal.channel_layer), timed from the call to the end of the after-commit delivery, side
  by side (alternating) with the same call pushing through channels-redis's own group_send per
  recipient, and with the per-recipient path it replaced (N × `notify()`, each its own preference
  query, INSERT and count);
- `create_ticket()` by a franchisee with auto-assignment off (every agent is told), with 5 agents and
  with N agents: wall time and query count (the commit's deliveries included);
- the least-loaded auto-assignment query with the ticket tables as they are.

    .venv/bin/python benchmarks/notify_fanout.py [--quick] [--agents N] [--runs R]

REDIS_URL: used when set, otherwise a throwaway redis-server on a free port. DATABASE_URL: a
PostgreSQL URL when set (`make bench` gives it a fresh database), otherwise a throwaway SQLite file.
Prints one JSON object (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.notification_latency import start_redis  # noqa: E402


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument(
        "--no-sockets",
        action="store_true",
        help="no agent is connected (by default each agent has a socket in one of two Daphne processes)",
    )
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)

    workdir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    children: list[subprocess.Popen] = []
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        redis_url, redis_process = start_redis(workdir)
        children.append(redis_process)
    os.environ.update(
        {
            "DEBUG": "true",
            "REDIS_URL": redis_url,
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "support_portal.settings",
            "TICKETS_AUTO_ASSIGN": "off",
            "TICKET_CREATE_RATE": "1000000/600",  # measured here: the cost, not the per-user limit
        }
    )
    try:
        print(json.dumps(run(args.agents, runs, sockets=not args.no_sockets), indent=2))
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=10)


def run(agents: int, runs: int, *, sockets: bool) -> dict:
    import django

    django.setup()
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Franchise, User
    from notifications import kinds
    from notifications.models import Notification
    from notifications.services import notify, notify_many, user_group
    from tickets import assignment, services
    from tickets.models import Category, Ticket

    call_command("migrate", verbosity=0)
    franchise, _ = Franchise.objects.get_or_create(code="fanout", defaults={"name": "Franquicia fan-out"})
    franchisee, _ = User.objects.get_or_create(
        username="fanout_franchisee", defaults={"role": "franchisee", "franchise": franchise}
    )
    User.objects.filter(role=User.Role.AGENT).exclude(username__startswith="fanout_agent_").update(is_active=False)
    existing = set(User.objects.filter(username__startswith="fanout_agent_").values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(username=name, role=User.Role.AGENT)
            for name in (f"fanout_agent_{i:04d}" for i in range(agents))
            if name not in existing
        ]
    )
    # Active again: a run cut short leaves most of them inactive (create_cost below), and the
    # next run would then notify a handful instead of `agents`.
    User.objects.filter(username__startswith="fanout_agent_").update(is_active=True)
    team = list(User.objects.filter(username__startswith="fanout_agent_").order_by("pk")[:agents])

    # Each agent "connected": a member of their group, as a socket in one of two Daphne processes
    # (channels-redis keeps one Redis key per process). The pushes land there and nobody reads
    # them, so the keys are emptied before each timed call (capacity would otherwise drop them).
    layer = get_channel_layer()
    process_keys = [f"{layer.prefix}specific.benchfanout{n}!" for n in range(2)]
    if sockets:

        async def join() -> None:
            for member in team:
                await layer.group_add(user_group(member.pk), f"specific.benchfanout{member.pk % 2}!{member.pk}")

        async_to_sync(join)()
    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])

    def timed(action) -> float:
        redis_client.delete(*process_keys)
        began = time.perf_counter()
        with transaction.atomic():
            action()
        return time.perf_counter() - began  # on_commit deliveries ran inside the timing

    def bulk() -> None:
        notify_many(team, kind=kinds.TICKET_NEW, title="Nuevo ticket T-0", body="bench")

    def one_by_one() -> None:
        for member in team:
            notify(recipient=member, kind=kinds.TICKET_NEW, title="Nuevo ticket T-0", body="bench")

    def timed_unbatched_push() -> float:
        """timed(bulk) with channels-redis's own group_send per recipient, 16 at a time (the push
        before support_portal.channel_layer); patched around the whole transaction, since the
        push runs on its commit."""
        from channels_redis.core import RedisChannelLayer

        async def upstream_group_sends(sends: list) -> None:
            gate = asyncio.Semaphore(16)

            async def one(group: str, message: dict) -> None:
                async with gate:
                    await RedisChannelLayer.group_send(layer, group, message)

            await asyncio.gather(*(one(group, message) for group, message in sends))

        layer.group_send_many = upstream_group_sends  # shadows the batched method on this instance
        try:
            return timed(bulk)
        finally:
            del layer.group_send_many

    timed(bulk)  # warm caches and connections
    bulk_s, unbatched_s = [], []
    for _ in range(runs):  # alternating, so both see the same moments of a shared machine
        bulk_s.append(timed(bulk))
        unbatched_s.append(timed_unbatched_push())
    single_s = [timed(one_by_one) for _ in range(runs)]

    def create_cost(size: int) -> dict:
        User.objects.filter(pk__in=[m.pk for m in team[size:]]).update(is_active=False)
        User.objects.filter(pk__in=[m.pk for m in team[:size]]).update(is_active=True)
        seconds, queries = [], []
        for i in range(runs + 1):
            connection.queries_log.clear()  # under DEBUG the log keeps 9,000: a full one counts 0
            with CaptureQueriesContext(connection) as ctx:
                began = time.perf_counter()
                services.create_ticket(actor=franchisee, subject=f"La TPV no imprime {i}", description="Bench.")
                elapsed = time.perf_counter() - began
            if i:  # the first one warms the content-type cache
                seconds.append(elapsed)
                queries.append(len(ctx.captured_queries))
        return {"agents": size, "p50_ms": _median_ms(seconds), "queries": max(queries)}

    small, large = create_cost(5), create_cost(agents)
    User.objects.filter(pk__in=[m.pk for m in team]).update(is_active=True)

    category, _ = Category.objects.get_or_create(slug="fanout", defaults={"name": "Fan-out"})
    category.agents.set(team)
    probe = Ticket(franchise=franchise, category=category, subject="probe")
    assign_s = []
    for _ in range(runs):
        began = time.perf_counter()
        assignment.least_loaded(probe)
        assign_s.append(time.perf_counter() - began)

    bulk_ms, single_ms = _median_ms(bulk_s), _median_ms(single_s)
    result = {
        "agents": agents,
        "runs": runs,
        "database": connection.vendor,
        "tickets_in_database": Ticket.objects.count(),
        "agents_connected": sockets,
        "notify_bulk_p50_ms": bulk_ms,
        "notify_bulk_unbatched_push_p50_ms": _median_ms(unbatched_s),
        "notify_one_by_one_p50_ms": single_ms,
        "speedup": round(single_ms / bulk_ms, 1) if bulk_ms else None,
        "create_ticket_few_agents": small,
        "create_ticket_many_agents": large,
        "least_loaded_p50_ms": _median_ms(assign_s),
        "goals": {
            "notify_500_agents_under_200_ms": bulk_ms < 200,
            "create_ticket_queries_constant": small["queries"] == large["queries"],
        },
    }
    Notification.objects.filter(body="bench").delete()
    if sockets:

        async def leave() -> None:
            for member in team:
                await layer.group_discard(user_group(member.pk), f"specific.benchfanout{member.pk % 2}!{member.pk}")

        async_to_sync(leave)()
    redis_client.delete(*process_keys)
    return result


if __name__ == "__main__":
    main()
