"""Idle sockets held by one Daphne process on the Redis channel layer: memory and CPU per socket.

Opens N authenticated sockets, by default half `/ws/chat/` (N/20 conversations, 10 chat sockets
each, franchisee and agent cookies alternating) and half `/ws/notifications/` (the same users'
bells), waits for every chat replay, holds them idle for --hold seconds, then checks they are all
still alive (one message per conversation must reach all its chat sockets; the notification
sockets must still be open). Memory per socket = (Daphne RSS with N sockets − RSS after one
warm-up socket) / N; opening rate = N / time to open them all; idle cost = Daphne's CPU time
(/proc) during the hold / N / hold seconds (presence heartbeats, channel-layer polling, pings).

    .venv/bin/python benchmarks/idle_sockets.py [--quick] [--sockets 1000] [--hold 20] [--chat-only]

Prints one JSON object. Same database/Redis options as benchmarks/chat_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_load import portal_env, prepare_portal  # noqa: E402
from tests.servers import daphne  # noqa: E402

PER_CONVERSATION = 10


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_socket(url: str, cookie: str, origin: str):
    from websockets.asyncio.client import connect

    ws = await asyncio.wait_for(
        connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"}, ping_interval=None), 120
    )
    if "/ws/chat/" in url:
        while json.loads(await asyncio.wait_for(ws.recv(), 120))["type"] != "conversation":
            pass  # replay, then the status frame
    return ws


async def hold(port: int, pid: int, plan: list[dict], n: int, seconds: float, chat_only: bool) -> dict:
    origin = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws/chat/{{}}/"
    bell = f"ws://127.0.0.1:{port}/ws/notifications/"
    chat_n = n if chat_only else n // 2
    warm = await open_socket(url.format(plan[0]["id"]), plan[0]["f"], origin)
    await asyncio.sleep(1)
    before = rss_kb(pid)
    sockets: list[tuple[int, object]] = []
    started = time.perf_counter()
    bells: list = []
    for start in range(0, n, 50):
        batch = []
        for i in range(start, min(n, start + 50)):
            if i < chat_n:
                conv = plan[i // PER_CONVERSATION]
                cookie = conv["f"] if i % 2 == 0 else conv["a"]
                batch.append(open_socket(url.format(conv["id"]), cookie, origin))
            else:
                conv = plan[((i - chat_n) // PER_CONVERSATION) % len(plan)]
                batch.append(open_socket(bell, conv["f"] if i % 2 == 0 else conv["a"], origin))
        for index, ws in zip(range(start, start + len(batch)), await asyncio.gather(*batch), strict=True):
            if index < chat_n:
                sockets.append((plan[index // PER_CONVERSATION]["id"], ws))
            else:
                bells.append(ws)
    opened_in = time.perf_counter() - started
    cpu_before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    idle_cpu = cpu_seconds(pid) - cpu_before
    after = rss_kb(pid)
    # still alive? one message per conversation must reach each of its sockets
    for conv in plan[: max(1, chat_n // PER_CONVERSATION)]:
        sender = next(ws for cid, ws in sockets if cid == conv["id"])
        await sender.send(json.dumps({"type": "message.send", "client_id": f"ping-{conv['id']}", "body": "ping"}))
        await asyncio.sleep(0.02)  # paced: a burst of hundreds at once would be refused `busy` (chat.hot_path)

    async def got_ping(ws) -> bool:
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] == "message" and (frame.get("client_id") or "").startswith("ping-"):
                    return True
        except Exception:  # noqa: BLE001 (closed or silent socket: not alive)
            return False

    alive = sum(await asyncio.gather(*(got_ping(ws) for _, ws in sockets)))
    alive += sum(1 for ws in bells if ws.state.name == "OPEN")
    for ws in [ws for _, ws in sockets] + bells:
        with contextlib.suppress(Exception):
            await ws.close()
    await warm.close()
    return {
        "sockets": n,
        "chat_sockets": chat_n,
        "notification_sockets": n - chat_n,
        "opened_in_s": round(opened_in, 2),
        "opened_per_s": round(n / opened_in, 1),
        "idle_cpu_share": round(idle_cpu / seconds, 4),
        "idle_cpu_us_per_socket_per_s": round(1e6 * idle_cpu / seconds / n, 2),
        "held_idle_s": seconds,
        "alive_after_hold": alive,
        "rss_before_mb": round(before / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "kb_per_socket": round((after - before) / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="hold 10 s instead of 20 s")
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--hold", type=float)
    parser.add_argument("--chat-only", action="store_true", help="only /ws/chat/ sockets (the earlier runs)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    seconds = args.hold or (10.0 if args.quick else 20.0)

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    tmp = tempfile.TemporaryDirectory(prefix="idle_sockets_")
    database_url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    env = portal_env(database_url, args.redis_url)
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client holds N sockets too
    chat_n = args.sockets if args.chat_only else args.sockets // 2
    conversations = max(1, -(-chat_n // PER_CONVERSATION))
    plan = prepare_portal(conversations, env)
    with daphne(env, nofile=args.sockets * 2 + 1024, log_path=Path(tmp.name) / "daphne.log") as (port, proc):
        result = asyncio.run(hold(port, proc.pid, plan, args.sockets, seconds, args.chat_only))
    result["database"] = database_url.split(":", 1)[0]
    tmp.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
