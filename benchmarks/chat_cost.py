"""Daphne CPU per delivered chat message: the portal beside a bare Channels relay, same run.

Two Daphne processes run side by side for the whole run: the portal (Redis channel layer,
PostgreSQL) and `benchmarks/relay_app.py` (the same Redis, no auth, no database). At each level
of concurrent conversations, the same load runs against each, alternating (portal, relay, relay,
portal, … in ABBA order): per conversation a franchisee and an agent chat socket take turns
sending `message.send` at RATE messages per second (open loop, fixed schedule), and a third,
idle socket per conversation is open (the portal: the franchisee's `/ws/notifications/`; the
relay: a socket in a room of its own), so idle costs (heartbeats, presence, polling) count.

Measured in a window after a warm-up: the Daphne process's own CPU time (utime + stime from
/proc/<pid>/stat, whatever else the loaded machine runs) divided by the messages delivered to
the other side in that window; sender → receiver latency; the load generator's CPU.

    .venv/bin/python benchmarks/chat_cost.py [--levels 20,200] [--rate 1] [--seconds 15]
        [--rounds 1] [--database-url URL] [--redis-url URL] [--quick]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_load import Stats, percentile, portal_env, prepare_portal  # noqa: E402
from tests.servers import daphne  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by one process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_ticks() -> tuple[int, int]:
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _reader(ws, me: str, stats: Stats, window: dict, codes: dict, run_tag: str) -> None:
    try:
        async for raw in ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "error":
                stats.errors += 1
                codes[frame.get("code")] = codes.get(frame.get("code"), 0) + 1
                continue
            if kind not in ("message", "message.send") or not frame.get("client_id"):
                continue
            conv, sender, seq = frame["client_id"].split(":")
            if sender == me or not seq.startswith(run_tag):
                continue  # the sender's own echo, or an earlier run's message replayed at connect
            key = (conv, sender, seq)
            if key in stats.seen:
                stats.duplicates += 1
                continue
            stats.seen.add(key)
            stats.received += 1
            if window["open"]:
                stats.latencies.append(now - float(frame["body"].split()[1]))
    except Exception:  # noqa: BLE001,S110 (closed at the end of the run)
        pass


async def measure(targets: list[dict], pid: int, rate: float, warmup: float, seconds: float, profile: str = "") -> dict:
    """Open every socket, send for warmup + seconds, measure the window after the warm-up."""
    from websockets.asyncio.client import connect

    stats = Stats()
    run_tag = os.urandom(4).hex()  # client_ids unique per run: the server answers a reused one as a retry
    codes: dict[str, int] = {}
    window = {"open": False}
    sockets: list = []
    tasks: list[asyncio.Task] = []

    async def open_one(url: str, cookie: str | None, origin: str, me: str | None):
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        ws = await asyncio.wait_for(
            connect(url, origin=origin, additional_headers=headers, max_queue=None, ping_interval=None), 60
        )
        sockets.append(ws)
        if me is not None:
            tasks.append(asyncio.create_task(_reader(ws, me, stats, window, codes, run_tag)))
        else:
            tasks.append(asyncio.create_task(_drain(ws)))
        return ws

    pairs = {}
    for start in range(0, len(targets), 20):
        chunk = targets[start : start + 20]
        opened = await asyncio.gather(
            *(
                asyncio.gather(
                    open_one(t["url_f"], t.get("cookie_f"), t["origin"], "f"),
                    open_one(t["url_a"], t.get("cookie_a"), t["origin"], "a"),
                    open_one(t["url_idle"], t.get("cookie_f"), t["origin"], None),
                )
                for t in chunk
            )
        )
        for t, (ws_f, ws_a, _idle) in zip(chunk, opened, strict=True):
            pairs[t["id"]] = {"f": ws_f, "a": ws_a}
    await asyncio.sleep(2.0)  # replays done
    marks: dict[str, tuple] = {}

    async def talk(target):
        interval = 1.0 / rate
        next_at = time.perf_counter() + random.random() * interval
        end = next_at + warmup + seconds
        seq = 0
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            me = "f" if seq % 2 == 0 else "a"
            frame = {
                "type": "message.send",
                "client_id": f"{target['id']}:{me}:{run_tag}-{seq}",
                "body": f"{seq} {time.perf_counter():.9f} hola",
            }
            try:
                await pairs[target["id"]][me].send(json.dumps(frame))
            except Exception:  # noqa: BLE001
                stats.send_failures += 1
            else:
                stats.sent += 1
            seq += 1
            next_at += interval

    async def clock():
        await asyncio.sleep(warmup)
        marks["start"] = (time.perf_counter(), cpu_seconds(pid), stats.received, time.process_time(), machine_ticks())
        window["open"] = True
        spy = None
        if profile:  # py-spy on the server during the window (raw collapsed stacks)
            command = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "--nolineno"]
            command += ["-r", "200", "-d", str(int(seconds)), "-f", "raw", "-o", profile]
            spy = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL)
        await asyncio.sleep(seconds)
        if spy is not None:
            await spy.wait()
        window["open"] = False
        marks["end"] = (time.perf_counter(), cpu_seconds(pid), stats.received, time.process_time(), machine_ticks())

    await asyncio.gather(clock(), *(talk(t) for t in targets))
    deadline = time.perf_counter() + 15
    while stats.received < stats.sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    for ws in sockets:
        with contextlib.suppress(Exception):
            await ws.close()
    for task in tasks:
        task.cancel()
    (t0, cpu0, got0, gen0, (busy0, all0)), (t1, cpu1, got1, gen1, (busy1, all1)) = marks["start"], marks["end"]
    delivered = got1 - got0
    return {
        "sockets": len(sockets),
        "delivered_in_window": delivered,
        "msgs_per_s": round(delivered / (t1 - t0), 1),
        "daphne_cpu_ms_per_msg": round(1000 * (cpu1 - cpu0) / delivered, 3) if delivered else None,
        "daphne_cpu_share": round((cpu1 - cpu0) / (t1 - t0), 3),
        "loadgen_cpu_ms_per_msg": round(1000 * (gen1 - gen0) / delivered, 3) if delivered else None,
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, all1 - all0), 1),
        "p50_ms": _ms(percentile(stats.latencies, 50)),
        "p99_ms": _ms(percentile(stats.latencies, 99)),
        "sent": stats.sent,
        "lost": stats.sent - stats.received,
        "duplicated": stats.duplicates,
        "errors": stats.errors,
        "error_codes": codes,
        # neither delivered nor refused with an error frame (must be 0: no silent loss or expiry)
        "unaccounted": stats.sent - stats.received - stats.errors,
        "offered_per_s": round(rate * len(targets), 1),
    }


async def _drain(ws) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


def _ms(value: float | None) -> float | None:
    return round(value * 1000, 2) if value is not None else None


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def overload_summary(levels: list[dict]) -> dict:
    """Per server and conversation count: the peak delivered rate, the offered rate at the peak
    (saturating), and what is delivered at twice that offered rate, as a share of the peak."""
    summary: dict = {}
    for kind in ("portal", "relay"):
        for n in sorted({lv["conversations"] for lv in levels}):
            points = [(lv["offered_per_s"], lv[kind]["msgs_per_s"]) for lv in levels if lv["conversations"] == n]
            offered_at_peak, peak = max(points, key=lambda p: p[1])
            beyond = [p for p in points if p[0] >= 2 * offered_at_peak]
            at_twice = beyond[0][1] if beyond else None
            summary[f"{kind}_{n}"] = {
                "peak_msgs_per_s": peak,
                "offered_at_peak": offered_at_peak,
                "delivered_at_2x": at_twice,
                "share_of_peak_at_2x": round(at_twice / peak, 3) if at_twice is not None and peak else None,
            }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="20,200")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second per conversation")
    parser.add_argument(
        "--rates", default="", help="overload sweep: these rates per conversation (e.g. 0.5,1,2,4), each level"
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds per level")
    parser.add_argument("--quick", action="store_true", help="levels 20,200, 8 s windows")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_chat_cost")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    parser.add_argument("--profile", default="", help="py-spy the portal's windows into this file prefix")
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "bench_logs"))
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 8.0, 2.0
    levels = [int(x) for x in args.levels.split(",")]
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    ensure_database(args.database_url)
    env = portal_env(args.database_url, args.redis_url)
    plan = prepare_portal(max(levels), env)
    from django.db import connection

    connection.close()
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "rate_per_conversation": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "levels": [],
    }
    with contextlib.ExitStack() as stack:
        portal_port, portal = stack.enter_context(daphne(env, nofile=65536, log_path=log_dir / "chat_cost-portal.log"))
        relay_port, relay = stack.enter_context(
            daphne(
                {"REDIS_URL": args.redis_url},
                app="benchmarks.relay_app:application",
                nofile=65536,
                ready_path="/",
                log_path=log_dir / "chat_cost-relay.log",
            )
        )
        result["rss_kb_at_start"] = {"portal": rss_kb(portal.pid), "relay": rss_kb(relay.pid)}

        def targets(kind: str, n: int) -> list[dict]:
            if kind == "portal":
                base, origin = f"ws://127.0.0.1:{portal_port}", f"http://127.0.0.1:{portal_port}"
                return [
                    {
                        "id": c["id"],
                        "url_f": f"{base}/ws/chat/{c['id']}/",
                        "url_a": f"{base}/ws/chat/{c['id']}/",
                        "url_idle": f"{base}/ws/notifications/",
                        "cookie_f": c["f"],
                        "cookie_a": c["a"],
                        "origin": origin,
                    }
                    for c in plan[:n]
                ]
            base = f"ws://127.0.0.1:{relay_port}"
            return [
                {
                    "id": c["id"],
                    "url_f": f"{base}/ws/relay/{c['id']}/",
                    "url_a": f"{base}/ws/relay/{c['id']}/",
                    "url_idle": f"{base}/ws/relay/idle-{c['id']}/",
                    "origin": "http://127.0.0.1",
                }
                for c in plan[:n]
            ]

        rates = [float(x) for x in args.rates.split(",")] if args.rates else [args.rate]
        for n, rate in [(n, r) for n in levels for r in rates]:
            runs: dict[str, list[dict]] = {"portal": [], "relay": []}
            order = []
            for r in range(args.rounds):
                order += ["portal", "relay"] if r % 2 == 0 else ["relay", "portal"]
            for kind in order:
                pid = portal.pid if kind == "portal" else relay.pid
                spy = f"{args.profile}-{n}.txt" if args.profile and kind == "portal" else ""
                runs[kind].append(asyncio.run(measure(targets(kind, n), pid, rate, args.warmup, args.seconds, spy)))
            level = {"conversations": n, "rate_per_conversation": rate, "offered_per_s": round(n * rate, 1)}
            for kind, items in runs.items():
                costs = [i["daphne_cpu_ms_per_msg"] for i in items if i["daphne_cpu_ms_per_msg"]]
                level[kind] = {
                    "runs": items,
                    "daphne_cpu_ms_per_msg": round(sum(costs) / len(costs), 3) if costs else None,
                    "msgs_per_s": round(sum(i["msgs_per_s"] for i in items) / len(items), 1),
                    "unaccounted": sum(i["unaccounted"] for i in items),
                }
            p, b = level["portal"]["daphne_cpu_ms_per_msg"], level["relay"]["daphne_cpu_ms_per_msg"]
            level["portal_over_relay"] = round(p / b, 2) if p and b else None
            result["levels"].append(level)
            print(json.dumps(level), file=sys.stderr)
        result["rss_kb_at_end"] = {"portal": rss_kb(portal.pid), "relay": rss_kb(relay.pid)}
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if len(rates) > 1:
        result["overload"] = overload_summary(result["levels"])
    result["goals"] = {
        "portal_at_most_2ms_per_msg": all(
            (lv["portal"]["daphne_cpu_ms_per_msg"] or 99) <= 2.0 for lv in result["levels"]
        ),
        "portal_at_most_1_5x_relay": all((lv["portal_over_relay"] or 99) <= 1.5 for lv in result["levels"]),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
