"""Memory and CPU time of the streamed ticket CSV export at 5,000 and 100,000 rows (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_tickets .venv/bin/python benchmarks/tickets_export.py

Loads 100,000 tickets with benchmarks/tickets_pages.load (only when the count differs), then, for
each size, a fresh Python process streams `tickets.export.tickets_csv` over the first N tickets
(the same response the /agent/reports/tickets.csv view returns, consumed as a server would) and
reports its peak RSS, the peak of Python allocations (tracemalloc) and the CPU time; then the
server time and query count of the range figures (tickets/breakdowns.py) over 30 and 366 days.
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_tickets")
os.environ.setdefault("DEBUG", "true")  # as benchmarks/tickets_pages.py (its query log is bounded)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

TOTAL = 100_000
SIZES = (5_000, 100_000)


def _setup() -> None:
    import django

    django.setup()


def stream(rows: int) -> dict:
    """In this process: stream the CSV of the first `rows` tickets and measure it."""
    import tracemalloc

    _setup()
    from accounts.models import User
    from tickets import export
    from tickets.models import Ticket

    user = User.objects.get(username="bench_supervisor")
    last = Ticket.objects.order_by("id").values_list("id", flat=True)[rows - 1]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    tracemalloc.start()
    response = export.tickets_csv(Ticket.objects.filter(id__lte=last), user)
    size = lines = 0
    for part in response:
        size += len(part)
        lines += part.count(b"\n")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rows": rows,
        "csv_lines": lines,
        "csv_mb": round(size / 1e6, 1),
        "cpu_s": round(time.process_time() - cpu, 2),
        "python_peak_mb": round(peak / 1e6, 2),
        "rss_before_mb": round(rss_before / 1024, 1),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def figures(runs: int = 5) -> dict:
    """Server time of the range figures (tickets and chats, per agent and franchise) over 30 and 366 days."""
    import statistics

    _setup()
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tickets.breakdowns import range_figures

    today = timezone.localdate()
    out = {}
    for days in (30, 366):
        start = today - timedelta(days=days - 1)
        with CaptureQueriesContext(connection) as ctx:
            range_figures(start, today)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            range_figures(start, today)
            timings.append((time.perf_counter() - started) * 1000)
        out[f"{days}_days"] = {"median_ms": round(statistics.median(timings), 1), "queries": len(ctx.captured_queries)}
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--stream":
        print(json.dumps(stream(int(sys.argv[2]))))
        return
    if len(sys.argv) == 2 and sys.argv[1] == "--figures":
        print(json.dumps(figures()))
        return
    from tickets_pages import ensure_database, load

    ensure_database(os.environ["DATABASE_URL"])
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load(TOTAL, lambda message: print(message, file=sys.stderr))
    results = []
    for rows in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--stream", str(rows)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    out = subprocess.run([sys.executable, __file__, "--figures"], capture_output=True, text=True, check=True)
    report = {"chunk": 2000, "results": results, "range_figures": json.loads(out.stdout.strip().splitlines()[-1])}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
