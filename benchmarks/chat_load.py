"""Chat latency under load: N live conversations against Daphne on the Redis channel layer,
and the same load against a bare Channels relay (benchmarks/relay_app.py) as the baseline.

Each conversation has a franchisee socket and an agent socket (real session cookies, allowed
Origin) on /ws/chat/<id>/; the two sides take turns sending `message.send` at RATE messages per
second per conversation (open loop, fixed schedule). Measured: sender → receiver latency
(p50/p90/p99/max), delivered messages per second, lost (sent, never delivered to the other
side), duplicated (delivered twice) and error frames. The relay run uses the same sockets,
schedule and frames, without authentication, database or validation; `ratio` is ours/relay.

    .venv/bin/python benchmarks/chat_load.py [--quick | --full] [--conversations N] [--rate R]
        [--seconds S] [--servers K] [--database-url URL] [--redis-url URL]

--quick: 50 conversations × 5 msg/s × 10 s; --full: 200 × 5 msg/s × 20 s. The database is a
temporary SQLite file (WAL mode) unless --database-url or $DATABASE_URL (e.g. PostgreSQL) is
given; Redis defaults to $REDIS_URL or redis://127.0.0.1:6379/13 (flushed). The servers run with
the flood limit lifted (benchmarks/chat_load_settings.py): 5 msg/s per conversation is above the
20 msg/10 s per-user guard.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import daphne  # noqa: E402

SETTINGS = "benchmarks.chat_load_settings"


def portal_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a benchmark's Daphne processes (production settings, local services)."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": SETTINGS,
    }


@dataclass
class Stats:
    sent: int = 0
    received: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seen: set = field(default_factory=set)
    duplicates: int = 0
    send_failures: int = 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def prepare_portal(n: int, env: dict[str, str]) -> list[dict]:
    """Migrate the benchmark database; n franchisees, n/4 agents, n active conversations, sessions."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Franchise, User
    from chat.models import Conversation
    from tests.servers import session_cookie

    call_command("migrate", verbosity=0, interactive=False)
    franchise, _ = Franchise.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    agents = [
        User.objects.get_or_create(username=f"bench_agent_{i}", defaults={"role": "agent"})[0]
        for i in range(max(1, n // 4))
    ]
    agent_cookies = {agent.pk: session_cookie(agent) for agent in agents}
    plan = []
    for i in range(n):
        franchisee = User.objects.get_or_create(
            username=f"bench_fran_{i}", defaults={"role": "franchisee", "franchise": franchise}
        )[0]
        agent = agents[i % len(agents)]
        conversation = Conversation.objects.create(
            franchise=franchise, franchisee=franchisee, agent=agent, status="active", topic=f"Bench {i}"
        )
        plan.append({"id": conversation.pk, "f": session_cookie(franchisee), "a": agent_cookies[agent.pk]})
    return plan


async def side(url: str, cookie: str | None, origin: str, me: str, stats: Stats, ready: asyncio.Event, stop, slot):
    """One socket: record every `message` frame sent by the other side of its conversation.
    The open socket is put in `slot` (a one-item list) for the sender."""
    from websockets.asyncio.client import connect

    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
    ws = await connect(url, origin=origin, additional_headers=headers, max_queue=None, ping_interval=None)
    slot.append(ws)
    ready.set()
    try:
        async for raw in ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "error":
                stats.errors += 1
                continue
            if kind not in ("message", "message.send") or not frame.get("client_id"):  # relay: verbatim
                continue
            conv, sender, seq = frame["client_id"].split(":")
            if sender == me:
                continue  # the sender's own echo
            key = (conv, sender, seq)
            if key in stats.seen:
                stats.duplicates += 1
                continue
            stats.seen.add(key)
            stats.received += 1
            if not stop.is_set():
                stats.latencies.append(now - float(frame["body"].split()[1]))
    except Exception:  # noqa: BLE001,S110 (closed at the end of the run)
        pass


async def run_load(targets: list[dict], rate: float, seconds: float) -> dict:
    """targets: {"id", "url_f", "url_a", "cookie_f", "cookie_a", "origin"} per conversation."""
    stats = Stats()
    stop = asyncio.Event()
    sockets: dict[tuple[int, str], list] = {}
    readers = []

    async def open_pair(target):
        for me in ("f", "a"):
            ready = asyncio.Event()
            slot: list = []
            sockets[(target["id"], me)] = slot
            readers.append(
                asyncio.create_task(
                    side(
                        target[f"url_{me}"], target.get(f"cookie_{me}"), target["origin"], me, stats, ready, stop, slot
                    )
                )
            )
            await asyncio.wait_for(ready.wait(), 30)

    for start in range(0, len(targets), 25):
        await asyncio.gather(*(open_pair(t) for t in targets[start : start + 25]))
    await asyncio.sleep(1.5)  # let every replay finish

    async def talk(target):
        interval = 1.0 / rate
        next_at = time.perf_counter() + random.random() * interval
        end = next_at + seconds
        seq = 0
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            me = "f" if seq % 2 == 0 else "a"
            ws = sockets[(target["id"], me)][0]
            frame = {
                "type": "message.send",
                "client_id": f"{target['id']}:{me}:{seq}",
                "body": f"{seq} {time.perf_counter():.9f} hola",
            }
            try:
                await ws.send(json.dumps(frame))
            except Exception:  # noqa: BLE001 (a socket the server closed: counted, run goes on)
                stats.send_failures += 1
            else:
                stats.sent += 1
            seq += 1
            next_at += interval

    started = time.perf_counter()
    await asyncio.gather(*(talk(t) for t in targets))
    elapsed = time.perf_counter() - started
    # Late messages count as delivered (with their latency), not as lost: wait until everything
    # arrived, or nothing new arrived for 5 s (cap 60 s).
    quiet_since, last_count, deadline = time.perf_counter(), -1, time.perf_counter() + 60
    while stats.received < stats.sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        if stats.received != last_count:
            quiet_since, last_count = time.perf_counter(), stats.received
        elif time.perf_counter() - quiet_since > 5:
            break
    drained = time.perf_counter() - started
    stop.set()
    for slot in sockets.values():
        with contextlib.suppress(Exception):
            await slot[0].close()
    for task in readers:
        task.cancel()
    return {
        "sent": stats.sent,
        "delivered": stats.received,
        "lost": stats.sent - stats.received,
        "duplicated": stats.duplicates,
        "errors": stats.errors,
        "send_failures": stats.send_failures,
        "msgs_per_s": round(stats.received / max(elapsed, drained), 1),
        "send_window_s": round(elapsed, 2),
        "drain_s": round(drained - elapsed, 2),
        "latency_ms": {
            name: (round(value * 1000, 2) if value is not None else None)
            for name, value in [
                ("p50", percentile(stats.latencies, 50)),
                ("p90", percentile(stats.latencies, 90)),
                ("p99", percentile(stats.latencies, 99)),
                ("max", max(stats.latencies) if stats.latencies else None),
                ("mean", statistics.fmean(stats.latencies) if stats.latencies else None),
            ]
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--rate", type=float, default=5.0, help="messages per second per conversation")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--servers", type=int, default=1, help="Daphne processes (conversations split over them)")
    parser.add_argument("--log-dir", default="", help="keep the Daphne logs here (default: a temp dir)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    n = args.conversations or (200 if args.full else 50)
    seconds = args.seconds or (20.0 if args.full else 10.0)

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    tmp = tempfile.TemporaryDirectory(prefix="chat_load_")
    database_url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    env = portal_env(database_url, args.redis_url)
    plan = prepare_portal(n, env)
    result = {
        "conversations": n,
        "rate_per_conversation": args.rate,
        "seconds": seconds,
        "servers": args.servers,
        "database": database_url.split(":", 1)[0],
    }
    with contextlib.ExitStack() as stack:
        ports = [
            stack.enter_context(daphne(env, nofile=65536, log_path=Path(args.log_dir or tmp.name) / f"portal-{k}.log"))[
                0
            ]
            for k in range(args.servers)
        ]
        targets = []
        for i, conv in enumerate(plan):
            port_f, port_a = ports[i % len(ports)], ports[(i + 1) % len(ports)]
            targets.append(
                {
                    "id": conv["id"],
                    "url_f": f"ws://127.0.0.1:{port_f}/ws/chat/{conv['id']}/",
                    "url_a": f"ws://127.0.0.1:{port_a}/ws/chat/{conv['id']}/",
                    "cookie_f": conv["f"],
                    "cookie_a": conv["a"],
                    "origin": f"http://127.0.0.1:{port_f}",
                }
            )
        result["portal"] = asyncio.run(run_load(targets, args.rate, seconds))
    redis.Redis.from_url(args.redis_url).flushdb()
    relay_env = {"REDIS_URL": args.redis_url}
    with contextlib.ExitStack() as stack:
        ports = [
            stack.enter_context(
                daphne(relay_env, app="benchmarks.relay_app:application", nofile=65536, ready_path="/")
            )[0]
            for _ in range(args.servers)
        ]
        targets = [
            {
                "id": conv["id"],
                "url_f": f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/relay/{conv['id']}/",
                "url_a": f"ws://127.0.0.1:{ports[(i + 1) % len(ports)]}/ws/relay/{conv['id']}/",
                "origin": "http://127.0.0.1",
            }
            for i, conv in enumerate(plan)
        ]
        result["relay"] = asyncio.run(run_load(targets, args.rate, seconds))
    ours, base = result["portal"]["latency_ms"], result["relay"]["latency_ms"]
    result["ratio"] = {
        key: (round(ours[key] / base[key], 2) if ours[key] and base[key] else None) for key in ("p50", "p99")
    }
    result["load_average_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine skews both runs
    result["goals"] = {
        "zero_lost": result["portal"]["lost"] == 0,
        "zero_duplicated": result["portal"]["duplicated"] == 0,
        "p99_under_50ms": bool(ours["p99"] is not None and ours["p99"] < 50),
        "p50_at_most_2x_relay": bool(result["ratio"]["p50"] is not None and result["ratio"]["p50"] <= 2),
    }
    tmp.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
