"""Chat throughput against concurrent conversations, through nginx, with one and with two Daphne.

What runs (the `make stack` processes, from deploy/stack.py): PostgreSQL (a fresh database
`bench_chat_scale`), Redis (database 14, flushed), two Daphne processes with the Redis channel
layer, and two nginx instances rendered from deploy/nginx.conf: "one" proxies to the first
Daphne only, "two" balances over both. The same processes serve both topologies, measured one
after the other at each load level, so the two-vs-one ratio comes from the same run.

Load: N conversations, each a franchisee socket and an agent socket opened through nginx with
a real session cookie and an allowed Origin. Each conversation keeps one message in flight: a
side sends `message.send`, the other side's socket receives the `message` frame, then it
answers (closed loop). Measured over a window after a warm-up: messages delivered per second,
sender → receiver latency (p50/p90/p99), lost (sent, never delivered), duplicated (delivered
twice) and error frames. The flood limit is lifted for the servers (benchmarks/stack_settings.py),
since each user sends far more than 2 messages per second here.

    .venv/bin/python benchmarks/chat_scale.py [--quick] [--levels 1,10,50] [--seconds 10]

Prints one JSON object. The load generator runs on the same machine as the servers and takes
a share of the same cores: the ratio is a lower bound of what a second machine would add.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy import stack as stack_lib  # noqa: E402

DB_NAME = "bench_chat_scale"
REDIS_DB = 14
QUICK_LEVELS = [1, 5, 20, 50]
FULL_LEVELS = [1, 5, 10, 25, 50, 100, 200]
KEEP_LATENCIES = 2000  # latencies kept per point for the distribution plot


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _service_url(variable: str, default: str, path: str) -> str:
    base = os.environ.get(variable, "")
    if not base.startswith(default.split(":", 1)[0]):
        base = default
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


# --- setup ----------------------------------------------------------------------------------------


def create_conversations(count: int) -> list[tuple[int, str, str]]:
    """`count` conversations (franchisee + accepting agent); (id, franchisee cookie, agent cookie)."""
    from accounts.models import User
    from accounts.services import save_franchise
    from chat import services
    from tests.servers import session_cookie

    franchise = save_franchise(code="bench", name="Franquicia Benchmark")[0]
    franchisees = User.objects.bulk_create(
        [User(username=f"bench_f{i}", role="franchisee", franchise=franchise, password="!") for i in range(count)]
    )
    agents = User.objects.bulk_create(
        [User(username=f"bench_a{i}", role="agent", is_staff=True, password="!") for i in range(count)]
    )
    pairs = []
    for franchisee, agent in zip(franchisees, agents, strict=True):
        conversation = services.start_conversation(franchisee=franchisee, topic="Prueba de carga")
        services.accept_conversation(conversation_id=conversation.pk, agent=agent)
        pairs.append((conversation.pk, session_cookie(franchisee), session_cookie(agent)))
    return pairs


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Conversation:
    pk: int
    cookies: dict[str, str]
    sockets: dict[str, object] = field(default_factory=dict)
    sent: dict[str, tuple[float, str]] = field(default_factory=dict)  # client_id → (time, sender role)
    delivered: dict[str, float] = field(default_factory=dict)  # client_id → latency (s)
    waiting: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Totals:
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (receive time, latency s)
    duplicated: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    connect_failures: int = 0


async def _reader(conv: Conversation, role: str, ws, totals: Totals) -> None:
    with contextlib.suppress(Exception):
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "error":
                totals.errors[frame.get("code", "?")] = totals.errors.get(frame.get("code", "?"), 0) + 1
                continue
            if kind != "message":
                continue
            client_id = frame.get("client_id")
            sent = conv.sent.get(client_id)
            if sent is None or sent[1] == role:
                continue  # history, or the sender's own copy
            now = time.perf_counter()
            if client_id in conv.delivered:
                totals.duplicated += 1
                continue
            conv.delivered[client_id] = now - sent[0]
            totals.latencies.append((now, now - sent[0]))
            if conv.waiting == client_id:
                conv.arrived.set()


async def _connect(conv: Conversation, role: str, ws_base: str, origin: str, totals: Totals, tasks: list) -> None:
    from websockets.asyncio.client import connect

    ws = await connect(
        f"{ws_base}/ws/chat/{conv.pk}/?after=999999999",
        origin=origin,
        additional_headers={"Cookie": f"sessionid={conv.cookies[role]}"},
        open_timeout=30,
        max_queue=None,
    )
    # The server sends the conversation's status frame once its setup is done.
    while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "conversation":
        pass
    conv.sockets[role] = ws
    tasks.append(asyncio.create_task(_reader(conv, role, ws, totals)))


async def _converse(conv: Conversation, stop: asyncio.Event, prefix: str) -> None:
    seq = 0
    while not stop.is_set():
        role = "franchisee" if seq % 2 == 0 else "agent"
        client_id = f"{prefix}-{conv.pk}-{seq}"
        conv.arrived.clear()
        conv.waiting = client_id
        conv.sent[client_id] = (time.perf_counter(), role)
        await conv.sockets[role].send(
            json.dumps({"type": "message.send", "client_id": client_id, "body": f"mensaje {seq} de prueba"})
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conv.arrived.wait(), 10)
        seq += 1


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (Linux /proc/stat)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


async def measure(
    base_url: str,
    pairs: list[tuple[int, str, str]],
    *,
    seconds: float,
    warmup: float,
    prefix: str,
    server_pids: list[int],
) -> dict:
    ws_base = base_url.replace("http://", "ws://", 1)
    conversations = [Conversation(pk, {"franchisee": f, "agent": a}) for pk, f, a in pairs]
    totals = Totals()
    readers: list[asyncio.Task] = []
    gate = asyncio.Semaphore(25)

    async def open_both(conv: Conversation) -> None:
        async with gate:
            for role in ("franchisee", "agent"):
                try:
                    await _connect(conv, role, ws_base, base_url, totals, readers)
                except Exception:  # noqa: BLE001 - counted, the point goes on without it
                    totals.connect_failures += 1

    await asyncio.gather(*(open_both(conv) for conv in conversations))
    ready = [conv for conv in conversations if len(conv.sockets) == 2]
    stop = asyncio.Event()
    started = time.perf_counter()
    drivers = [asyncio.create_task(_converse(conv, stop, prefix)) for conv in ready]
    await asyncio.sleep(warmup)
    cpu_before, client_before, (busy_before, total_before) = (
        cpu_seconds(server_pids),
        time.process_time(),
        machine_ticks(),
    )
    await asyncio.sleep(seconds)
    server_cpu = cpu_seconds(server_pids) - cpu_before
    client_cpu = time.process_time() - client_before
    busy_after, total_after = machine_ticks()
    machine_busy = (busy_after - busy_before) / max(1, total_after - total_before)
    stop.set()
    await asyncio.gather(*drivers, return_exceptions=True)
    await asyncio.sleep(1.0)  # let the last frames land before counting what was lost
    for conv in ready:
        for ws in conv.sockets.values():
            with contextlib.suppress(Exception):
                await ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    window_start, window_end = started + warmup, started + warmup + seconds
    in_window = [latency for at, latency in totals.latencies if window_start <= at < window_end]
    sent = sum(len(conv.sent) for conv in ready)
    delivered = sum(len(conv.delivered) for conv in ready)
    latencies_ms = [latency * 1000 for latency in in_window]
    step = max(1, len(latencies_ms) // KEEP_LATENCIES)
    return {
        "conversations": len(pairs),
        "sockets_open": sum(len(conv.sockets) for conv in ready),
        "connect_failures": totals.connect_failures,
        "messages_per_s": round(len(in_window) / seconds, 1),
        # Daphne CPU per delivered message: the server's cost, whatever else the machine runs.
        "daphne_cpu_ms_per_message": round(server_cpu * 1000 / len(in_window), 2) if in_window else None,
        # The load generator's own CPU per message, and how busy the whole machine was (all cores).
        "client_cpu_ms_per_message": round(client_cpu * 1000 / len(in_window), 2) if in_window else None,
        "machine_cpu_busy_pct": round(machine_busy * 100, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 2) if latencies_ms else None,
        "p90_ms": round(percentile(latencies_ms, 90), 2) if latencies_ms else None,
        "p99_ms": round(percentile(latencies_ms, 99), 2) if latencies_ms else None,
        "mean_ms": round(statistics.fmean(latencies_ms), 2) if latencies_ms else None,
        "sent": sent,
        "delivered": delivered,
        "lost": sent - delivered,
        "duplicated": totals.duplicated,
        "errors": totals.errors,
        "latencies_ms": [round(value, 2) for value in latencies_ms[::step]],
    }


def _mean_of(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(statistics.fmean(values), 2) if values else None


def combine(runs: list[dict]) -> dict:
    """One point from repeated runs at the same level: mean rates, pooled latencies, summed counts."""
    if len(runs) == 1:
        return runs[0]
    latencies = sorted(value for run in runs for value in run["latencies_ms"])
    cpu = [run["daphne_cpu_ms_per_message"] for run in runs if run["daphne_cpu_ms_per_message"] is not None]
    errors: dict[str, int] = {}
    for run in runs:
        for code, count in run["errors"].items():
            errors[code] = errors.get(code, 0) + count
    step = max(1, len(latencies) // KEEP_LATENCIES)
    return {
        "conversations": runs[0]["conversations"],
        "runs": len(runs),
        "sockets_open": min(run["sockets_open"] for run in runs),
        "connect_failures": sum(run["connect_failures"] for run in runs),
        "messages_per_s": round(statistics.fmean(run["messages_per_s"] for run in runs), 1),
        "messages_per_s_runs": [run["messages_per_s"] for run in runs],
        "daphne_cpu_ms_per_message": round(statistics.fmean(cpu), 2) if cpu else None,
        "client_cpu_ms_per_message": _mean_of(runs, "client_cpu_ms_per_message"),
        "machine_cpu_busy_pct": _mean_of(runs, "machine_cpu_busy_pct"),
        "p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
        "p90_ms": round(percentile(latencies, 90), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "sent": sum(run["sent"] for run in runs),
        "delivered": sum(run["delivered"] for run in runs),
        "lost": sum(run["lost"] for run in runs),
        "duplicated": sum(run["duplicated"] for run in runs),
        "errors": errors,
        "latencies_ms": latencies[::step],
    }


# --- processes ------------------------------------------------------------------------------------


def start_stack(run_dir: Path, env: dict[str, str]) -> tuple[dict[str, str], list[subprocess.Popen]]:
    """Two Daphne processes, nginx "one" (first Daphne only) and nginx "two" (both)."""
    ports = [stack_lib.free_port(), stack_lib.free_port()]
    processes: list[subprocess.Popen] = []
    urls: dict[str, str] = {}
    base = stack_lib.StackConfig(nginx_port=0, daphne_ports=ports, run_dir=run_dir, env=env)
    for index, port in enumerate(ports, start=1):
        log = (run_dir / f"web{index}.log").open("ab")
        processes.append(
            subprocess.Popen(
                stack_lib.daphne_command(base, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
    for name, upstreams in (("one", ports[:1]), ("two", ports)):
        config = stack_lib.StackConfig(
            nginx_port=stack_lib.free_port(), daphne_ports=upstreams, run_dir=run_dir / f"nginx-{name}", env=env
        )
        config.run_dir.mkdir(parents=True, exist_ok=True)
        stack_lib.write_nginx_conf(config, access_log=False)
        processes.append(subprocess.Popen(stack_lib.nginx_command(config), cwd=ROOT))
        urls[name] = config.base_url
    for index, port in enumerate(ports):
        stack_lib.wait_for_http(f"http://127.0.0.1:{port}/healthz", process=processes[index], timeout=90)
    for url in urls.values():
        stack_lib.wait_for_http(f"{url}/healthz")
    return urls, processes


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"levels {QUICK_LEVELS}, 5 s per point")
    parser.add_argument("--levels", help="comma-separated numbers of concurrent conversations")
    parser.add_argument("--seconds", type=float, help="measured window per point (after a warm-up)")
    parser.add_argument("--settings", default="benchmarks.stack_settings", help="settings module of the servers")
    parser.add_argument("--repeat", type=int, help="runs per level and topology, averaged (default 1 quick, 2 full)")
    parser.add_argument("--channel-layer", choices=["redis", "redis-pubsub"], default="redis", help="CHANNEL_LAYER")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")] if args.levels else (QUICK_LEVELS if args.quick else FULL_LEVELS)
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 3.0
    args.repeat = args.repeat or (1 if args.quick else 2)

    database_url = _service_url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x", f"/{DB_NAME}")
    redis_url = _service_url("REDIS_URL", "redis://127.0.0.1:6379/0", f"/{REDIS_DB}")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    stack_lib.ensure_database(database_url, fresh=True)
    with tempfile.TemporaryDirectory(prefix="chat-scale-") as tmp:
        run_dir = Path(tmp)
        env = stack_lib.stack_environment(
            {
                "DEBUG": "false",
                "DJANGO_SETTINGS_MODULE": args.settings,
                "CHANNEL_LAYER": args.channel_layer,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "CELERY_BROKER_URL": redis_url,
                "STACK_DIR": str(run_dir),
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
            }
        )
        stack_lib.manage(env, "migrate", "--noinput", "--verbosity", "0")
        os.environ.update({k: env[k] for k in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WHOOSH_PATH")})
        os.environ.update(CELERY_TASK_ALWAYS_EAGER="true", DJANGO_SETTINGS_MODULE=args.settings)
        import django

        django.setup()
        pairs = create_conversations(max(levels))
        urls, processes = start_stack(run_dir, env)
        points: dict[str, list[dict]] = {"one": [], "two": []}
        try:
            for index, level in enumerate(levels):
                runs: dict[str, list[dict]] = {"one": [], "two": []}
                for repeat in range(args.repeat):  # ABBA order: drift of the machine's load cancels out
                    order = ("one", "two") if (index + repeat) % 2 == 0 else ("two", "one")
                    for topology in order:
                        point = asyncio.run(
                            measure(
                                urls[topology],
                                pairs[:level],
                                seconds=seconds,
                                warmup=warmup,
                                prefix=f"{topology}{level}r{repeat}",
                                server_pids=[process.pid for process in processes[:2]],
                            )
                        )
                        runs[topology].append(point)
                        print(
                            f"{topology}: {level} conversations {point['messages_per_s']} msg/s",
                            f"p99 {point['p99_ms']} ms, {point['daphne_cpu_ms_per_message']} Daphne CPU ms/message",
                            file=sys.stderr,
                            flush=True,
                        )
                for topology, measured in runs.items():
                    points[topology].append(combine(measured))
        finally:
            stop_all(processes)
    stack_lib.drop_database(database_url)

    ratios = [
        round(two["messages_per_s"] / one["messages_per_s"], 2) if one["messages_per_s"] else None
        for one, two in zip(points["one"], points["two"], strict=True)
    ]
    peak_one = max(point["messages_per_s"] for point in points["one"])
    peak_two = max(point["messages_per_s"] for point in points["two"])
    result = {
        "benchmark": "chat_scale",
        "mode": "quick" if args.quick else "full",
        "levels": levels,
        "settings": args.settings,
        "channel_layer": args.channel_layer,
        "seconds_per_point": seconds,
        "runs_per_point": args.repeat,
        "warmup_s": warmup,
        "one_daphne": points["one"],
        "two_daphne": points["two"],
        "ratio_two_over_one": ratios,
        "peak_messages_per_s": {"one": peak_one, "two": peak_two},
        "peak_ratio_two_over_one": round(peak_two / peak_one, 2) if peak_one else None,
        "lost": sum(p["lost"] for p in points["one"] + points["two"]),
        "duplicated": sum(p["duplicated"] for p in points["one"] + points["two"]),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
