"""`make bench`: run every benchmark, keep its JSON under benchmarks/results/, regenerate the report.

    .venv/bin/python benchmarks/run_all.py            # short mode (each script's --quick)
    .venv/bin/python benchmarks/run_all.py --full     # full mode (`make bench FULL=1`)
    .venv/bin/python benchmarks/run_all.py --only chat_scale kb_relevance
    .venv/bin/python benchmarks/run_all.py --report-only   # rebuild docs/PERFORMANCE.md from results

Benchmarks that touch the database run on PostgreSQL, the scale-out database (a fresh
bench_<name> database each run, on BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432);
the knowledge-base ones keep their temporary SQLite + Whoosh folder, the embedded search setup.

Each benchmark is a script printing one JSON object on stdout. Its result file
benchmarks/results/<name>.json holds that object under "result", plus the command, the mode,
the machine and how long it took; a failed or missing script is recorded as such (the report
says so instead of silently dropping it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info  # noqa: E402
from deploy.stack import ensure_database  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Benchmark:
    script: str
    quick: list[str]
    full: list[str]
    timeouts: tuple[int, int]  # seconds, short / full mode
    # A fresh PostgreSQL database for it (the scale-out database), passed as DATABASE_URL or as
    # --database-url; None: the script picks its own (temporary SQLite for the Whoosh benchmarks).
    database: str | None = None
    database_option: str | None = None


BENCHMARKS: dict[str, Benchmark] = {
    "chat_load": Benchmark("benchmarks/chat_load.py", ["--quick"], ["--full"], (900, 3600), "bench_chat_load",
                           "--database-url"),
    "chat_scale": Benchmark("benchmarks/chat_scale.py", ["--quick"], [], (900, 3600)),
    "idle_sockets": Benchmark("benchmarks/idle_sockets.py", ["--quick"], [], (600, 1800), "bench_idle_sockets",
                              "--database-url"),
    "notification_latency": Benchmark("benchmarks/notification_latency.py", ["--quick"], [], (600, 1800),
                                      "bench_notifications"),
    "kb_suggest_latency": Benchmark("benchmarks/kb_suggest_latency.py", ["--quick"], [], (900, 3600)),
    "kb_relevance": Benchmark("benchmarks/kb_relevance.py", [], [], (900, 3600)),
    "tickets_pages": Benchmark("benchmarks/tickets_pages.py", ["--quick"], [], (1800, 5400), "bench_tickets"),
    "notify_fanout": Benchmark("benchmarks/notify_fanout.py", ["--quick"], [], (600, 1800), "bench_notify_fanout"),
    # its own databases (bench_helpdesk_ours, bench_helpdesk_dh) and django-helpdesk's venv under var/
    "helpdesk_compare": Benchmark("benchmarks/helpdesk_compare.py", ["--quick"], [], (1200, 3600)),
}  # fmt: skip
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def parse_json_output(stdout: str) -> dict | list:
    """The JSON object a benchmark printed: the whole output, or its last JSON block."""
    text = stdout.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for start in [i for i, ch in enumerate(text) if ch == "{" and (i == 0 or text[i - 1] == "\n")][::-1]:
        try:
            return json.loads(text[start:])
        except ValueError:
            continue
    raise ValueError("no JSON object in the output")


def run_one(name: str, *, full: bool) -> dict:
    bench = BENCHMARKS[name]
    args = list(bench.full if full else bench.quick)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if bench.database:
        url = f"{POSTGRES}/{bench.database}"
        ensure_database(url, fresh=True)
        if bench.database_option:
            args += [bench.database_option, url]
        else:
            env["DATABASE_URL"] = url
    command = [".venv/bin/python", bench.script, *args]
    record: dict = {
        "benchmark": name,
        "command": " ".join(command) if not bench.database or bench.database_option else
        f"DATABASE_URL={env['DATABASE_URL']} " + " ".join(command),
        "mode": "full" if full else "quick",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    if not (ROOT / bench.script).exists():
        return {**record, "status": "missing", "error": f"{bench.script} does not exist yet"}
    began = time.monotonic()
    try:
        out = subprocess.run(
            [sys.executable, bench.script, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=bench.timeouts[1] if full else bench.timeouts[0],
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return {**record, "status": "timeout", "error": f"no result after {exc.timeout} s"}
    record["duration_s"] = round(time.monotonic() - began, 1)
    if out.returncode != 0:
        return {**record, "status": "failed", "returncode": out.returncode, "error": out.stderr[-3000:]}
    try:
        record["result"] = parse_json_output(out.stdout)
    except ValueError:
        return {**record, "status": "failed", "error": "no JSON in output: " + out.stdout[-1500:]}
    return {**record, "status": "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full mode (default: each script's --quick)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--report-only", action="store_true", help="regenerate the report from stored results")
    args = parser.parse_args(argv)

    RESULTS.mkdir(parents=True, exist_ok=True)
    failures = 0
    if not args.report_only:
        for name in args.only or list(BENCHMARKS):
            print(f"[bench] {name} ({'full' if args.full else 'quick'}) ...", flush=True)
            machine = machine_info()  # per benchmark: the load average when it starts
            record = run_one(name, full=args.full)
            record["machine"] = machine
            (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            print(f"[bench] {name}: {record['status']} {record.get('duration_s', '')}", flush=True)
            if record["status"] in ("failed", "timeout"):
                failures += 1
                print(record.get("error", "")[-1500:], file=sys.stderr)

    from benchmarks.report import write_report

    path = write_report()
    print(f"[bench] wrote {path.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
