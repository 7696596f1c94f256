"""Idle sockets held by one Daphne process on the Redis channel layer: memory and CPU per socket.

Opens N authenticated sockets, by default half `/ws/chat/` (N/20 conversations, 10 chat sockets
each, franchisee and agent cookies alternating) and half `/ws/notifications/` (the same users'
bells), waits for every chat replay, holds them idle for --hold seconds, then checks they are all
still alive (one message per conversation must reach all its chat sockets; the notification
sockets must still be open). Memory per socket = (Daphne RSS with N sockets − RSS after one
warm-up socket) / N; opening rate = N / time to open them all; idle cost = Daphne's CPU time
(/proc) during the hold / N / hold seconds (presence heartbeats, channel-layer polling, pings).
Opening cost, load-independent: Daphne's CPU time (/proc) while the sockets open / N, in ms per
open, beside the wall rate (the machine is shared; the client's own CPU is reported too).
Sockets open through --concurrency handshakes in flight at once (a new one starts as soon as one
is done).

    .venv/bin/python benchmarks/idle_sockets.py [--quick] [--sockets 1000] [--hold 20] [--chat-only]
        [--concurrency 50] [--server-env MALLOC_ARENA_MAX=2] [--heap FRAMES] [--py-spy FILE]

Diagnostics (opt-in; they slow the server, so their runs are not the figures):
- `--heap FRAMES`: the server runs with benchmarks/heapdiag (a census of the objects the garbage
  collector tracks, glibc's mallinfo2, pymalloc's arena statistics) and, FRAMES > 0, tracemalloc
  with FRAMES frames per trace. Taken after the warm-up socket and after the N sockets opened;
  the JSON gets `heap`: the growth per socket by object type, by source line and by package.
- `--py-spy FILE` / `--py-spy-hold FILE` (`--gil`: only samples holding the GIL): py-spy samples
  the server while the sockets open / during the hold (raw collapsed stacks).

Prints one JSON object. Same database/Redis options as benchmarks/chat_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_load import portal_env, prepare_portal  # noqa: E402
from tests.servers import daphne  # noqa: E402

PER_CONVERSATION = 10
HEAPDIAG = ROOT / "benchmarks" / "heapdiag"
PY_SPY = Path(sys.executable).with_name("py-spy")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ping_frame(conversation_id: int) -> str:
    return json.dumps({"type": "message.send", "client_id": f"ping-{conversation_id}", "body": "ping"})


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def open_socket(url: str, cookie: str, origin: str):
    from websockets.asyncio.client import connect

    ws = await asyncio.wait_for(
        connect(
            url,
            origin=origin,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            ping_interval=None,
            compression=None,  # as the portal's browsers: Daphne/autobahn offer no permessage-deflate
        ),
        120,
    )
    if "/ws/chat/" in url:
        while json.loads(await asyncio.wait_for(ws.recv(), 120))["type"] != "conversation":
            pass  # replay, then the status frame
    return ws


class Heap:
    """The --heap diagnostic: ask the server for a dump (SIGUSR1) and wait for it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = 0

    async def take(self, pid: int) -> int:
        self.taken += 1
        os.kill(pid, signal.SIGUSR1)
        done = self.folder / f"done-{self.taken}"
        for _ in range(6000):
            if done.exists():
                return self.taken
            await asyncio.sleep(0.1)
        raise TimeoutError("the server wrote no heap dump")

    def compare(self, first: int, second: int, n: int, top: int = 25) -> dict:
        before = json.loads((self.folder / f"census-{first}.json").read_text())
        after = json.loads((self.folder / f"census-{second}.json").read_text())
        grown = []
        for name, (count, size) in after.items():
            count0, size0 = before.get(name, [0, 0])
            if size - size0 > 0 or count - count0 > 0:
                grown.append((size - size0, count - count0, name))
        grown.sort(reverse=True)
        m0 = json.loads((self.folder / f"malloc-{first}.json").read_text())
        m1 = json.loads((self.folder / f"malloc-{second}.json").read_text())
        report: dict = {
            "rss_kb_per_socket": round((m1["rss_kb"] - m0["rss_kb"]) / n, 2),
            "malloc_in_use_kb_per_socket": round(
                (m1["mallinfo2"].get("uordblks", 0) - m0["mallinfo2"].get("uordblks", 0)) / 1024 / n, 2
            ),
            "malloc_free_held_kb_per_socket": round(
                (m1["mallinfo2"].get("fordblks", 0) - m0["mallinfo2"].get("fordblks", 0)) / 1024 / n, 2
            ),
            "gc_objects_per_socket": round(sum(c for _, c, _ in grown) / n, 1),
            "gc_shallow_kb_per_socket": round(sum(s for s, _, _ in grown) / 1024 / n, 2),
            "by_type": [
                {"type": name, "per_socket": round(count / n, 2), "bytes_per_socket": round(size / n)}
                for size, count, name in grown[:top]
            ],
            "pymalloc_after": _pymalloc_summary(self.folder / f"pymalloc-{second}.txt"),
        }
        if m1.get("traced") is not None:
            import tracemalloc

            snap0 = tracemalloc.Snapshot.load(str(self.folder / f"snapshot-{first}.pickle"))
            snap1 = tracemalloc.Snapshot.load(str(self.folder / f"snapshot-{second}.pickle"))
            report["traced_kb_per_socket"] = round((m1["traced"] - m0["traced"]) / 1024 / n, 2)
            lines = snap1.compare_to(snap0, "lineno")
            report["by_line"] = [
                {
                    "where": f"{_short(stat.traceback[0].filename)}:{stat.traceback[0].lineno}",
                    "bytes_per_socket": round(stat.size_diff / n),
                    "blocks_per_socket": round(stat.count_diff / n, 2),
                }
                for stat in lines[:top]
            ]
            packages: dict[str, int] = {}
            for stat in snap1.compare_to(snap0, "filename"):
                package = _package(stat.traceback[0].filename)
                packages[package] = packages.get(package, 0) + stat.size_diff
            report["by_package"] = {
                name: round(size / n) for name, size in sorted(packages.items(), key=lambda item: -item[1]) if size > 0
            }
            if snap1.traceback_limit > 1:
                stacks = snap1.compare_to(snap0, "traceback")
                report["by_traceback"] = [
                    {
                        "bytes_per_socket": round(stat.size_diff / n),
                        "stack": [f"{_short(f.filename)}:{f.lineno}" for f in stat.traceback][:8],
                    }
                    for stat in stacks[:top]
                ]
        return report


def _short(filename: str) -> str:
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _package(filename: str) -> str:
    """The top folder under site-packages, the standard library or the project (asyncio, daphne…)."""
    return _short(filename).split("/")[0]


def _pymalloc_summary(path: Path) -> dict:
    wanted = {
        "# arenas allocated current": "arenas",
        "# bytes in allocated blocks": "allocated_blocks_bytes",
        "# bytes in available blocks": "free_blocks_bytes",
        "# bytes lost to pool headers": "pool_headers_bytes",
        "# bytes lost to quantization": "quantization_bytes",
        "Total": "total_bytes",
    }
    found = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            name, _, value = line.partition("=")
            name = name.strip()
            if name in wanted:
                found[wanted[name]] = int(value.strip().replace(",", ""))
    return found


async def hold(
    port: int,
    pid: int,
    plan: list[dict],
    n: int,
    seconds: float,
    chat_only: bool,
    concurrency: int = 50,
    heap: Heap | None = None,
    py_spy: str | None = None,
    gil: bool = False,
    py_spy_hold: str | None = None,
) -> dict:
    origin = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws/chat/{{}}/"
    bell = f"ws://127.0.0.1:{port}/ws/notifications/"
    chat_n = n if chat_only else n // 2
    warm = await open_socket(url.format(plan[0]["id"]), plan[0]["f"], origin)
    await asyncio.sleep(1)
    heap_before = await heap.take(pid) if heap else None
    before = rss_kb(pid)
    opened: list = [None] * n
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        if i < chat_n:
            conv = plan[i // PER_CONVERSATION]
            target, cookie = url.format(conv["id"]), conv["f"] if i % 2 == 0 else conv["a"]
        else:
            conv = plan[((i - chat_n) // PER_CONVERSATION) % len(plan)]
            target, cookie = bell, conv["f"] if i % 2 == 0 else conv["a"]
        async with gate:
            opened[i] = await open_socket(target, cookie, origin)

    def start_spy(path: str | None):
        if not path:
            return None
        command = [str(PY_SPY), "record", "--pid", str(pid), "--nolineno", "-r", "100", "-f", "raw", "-o", path]
        command += ["--gil"] if gil else []
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_spy(spy) -> None:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)

    spy = start_spy(py_spy)
    if spy is not None:
        await asyncio.sleep(1)
    open_cpu_before, client_before = cpu_seconds(pid), client_cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    opened_in = time.perf_counter() - started
    open_cpu = cpu_seconds(pid) - open_cpu_before
    client_cpu = client_cpu_seconds() - client_before
    stop_spy(spy)
    sockets = [(plan[i // PER_CONVERSATION]["id"], opened[i]) for i in range(chat_n)]
    bells = opened[chat_n:]
    await asyncio.sleep(1)
    rss_opened = rss_kb(pid)
    heap_report = heap.compare(heap_before, await heap.take(pid), n) if heap else None
    spy = start_spy(py_spy_hold)
    cpu_before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    idle_cpu = cpu_seconds(pid) - cpu_before
    stop_spy(spy)
    after = rss_kb(pid)
    # still alive? one message per conversation must reach each of its sockets
    senders: dict[int, object] = {}
    for conv in plan[: max(1, chat_n // PER_CONVERSATION)]:
        sender = senders[conv["id"]] = next(ws for cid, ws in sockets if cid == conv["id"])
        await sender.send(ping_frame(conv["id"]))
        await asyncio.sleep(0.02)  # paced: a burst of hundreds at once would be refused `busy` (chat.hot_path)
    resent = [0]

    async def got_ping(conversation_id: int, ws) -> bool:
        tries = 0
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] == "message" and (frame.get("client_id") or "").startswith("ping-"):
                    return True
                if frame["type"] == "error" and frame.get("code") == "busy" and tries < 5:
                    tries += 1  # refused at the door: resend later with the same client_id, as the page does
                    resent[0] += 1
                    await asyncio.sleep(2)
                    await ws.send(ping_frame(conversation_id))
        except Exception:  # noqa: BLE001 (closed or silent socket: not alive)
            return False

    alive = sum(await asyncio.gather(*(got_ping(cid, ws) for cid, ws in sockets)))
    alive += sum(1 for ws in bells if ws.state.name == "OPEN")
    for ws in [ws for _, ws in sockets] + bells:
        with contextlib.suppress(Exception):
            await ws.close()
    await warm.close()
    result = {
        "sockets": n,
        "chat_sockets": chat_n,
        "notification_sockets": n - chat_n,
        "concurrency": concurrency,
        "opened_in_s": round(opened_in, 2),
        "opened_per_s": round(n / opened_in, 1),
        "server_cpu_ms_per_open": round(1000 * open_cpu / n, 3),
        "server_cpu_share_while_opening": round(open_cpu / opened_in, 3),
        "client_cpu_ms_per_open": round(1000 * client_cpu / n, 3),
        "rss_opened_mb": round(rss_opened / 1024, 1),
        "kb_per_socket_opened": round((rss_opened - before) / n, 1),
        "idle_cpu_share": round(idle_cpu / seconds, 4),
        "idle_cpu_us_per_socket_per_s": round(1e6 * idle_cpu / seconds / n, 2),
        "held_idle_s": seconds,
        "alive_after_hold": alive,
        "pings_resent_after_busy": resent[0],
        "rss_before_mb": round(before / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "kb_per_socket": round((after - before) / n, 1),
    }
    if heap_report is not None:
        result["heap"] = heap_report
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="hold 10 s instead of 20 s")
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--hold", type=float)
    parser.add_argument("--chat-only", action="store_true", help="only /ws/chat/ sockets (the earlier runs)")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight at once")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra variable for Daphne"
    )
    parser.add_argument("--heap", type=int, metavar="FRAMES", help="heap diagnostic (0: census only)")
    parser.add_argument("--py-spy", metavar="FILE", help="py-spy raw stacks of the server while opening")
    parser.add_argument("--py-spy-hold", metavar="FILE", help="py-spy raw stacks of the server during the hold")
    parser.add_argument("--gil", action="store_true", help="with --py-spy(-hold): only samples holding the GIL")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    seconds = args.hold or (10.0 if args.quick else 20.0)

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    tmp = tempfile.TemporaryDirectory(prefix="idle_sockets_")
    database_url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    base_env = portal_env(database_url, args.redis_url)
    env = dict(base_env)
    for item in args.server_env:
        name, _, value = item.partition("=")
        env[name] = value
    heap = None
    if args.heap is not None:
        folder = ROOT / "var" / "idle_sockets_heap" / time.strftime("%Y%m%d-%H%M%S")
        folder.mkdir(parents=True)  # kept: census, snapshots and allocator statistics of the run
        env["HEAPDIAG_DIR"] = str(folder)
        env["PYTHONPATH"] = f"{HEAPDIAG}{os.pathsep}{ROOT}"
        if args.heap > 0:
            env["PYTHONTRACEMALLOC"] = str(args.heap)
        heap = Heap(folder)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client holds N sockets too
    chat_n = args.sockets if args.chat_only else args.sockets // 2
    conversations = max(1, -(-chat_n // PER_CONVERSATION))
    plan = prepare_portal(conversations, base_env)
    with daphne(env, nofile=args.sockets * 2 + 1024, log_path=Path(tmp.name) / "daphne.log") as (port, proc):
        result = asyncio.run(
            hold(
                port,
                proc.pid,
                plan,
                args.sockets,
                seconds,
                args.chat_only,
                concurrency=args.concurrency,
                heap=heap,
                py_spy=args.py_spy,
                gil=args.gil,
                py_spy_hold=args.py_spy_hold,
            )
        )
    result["database"] = database_url.split(":", 1)[0]
    if args.server_env:
        result["server_env"] = args.server_env
    tmp.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
