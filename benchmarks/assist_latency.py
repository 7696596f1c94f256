"""Server time of the agent's ticket page and of the desk panels' JSON at 100,000 tickets.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_assist .venv/bin/python benchmarks/assist_latency.py
    ... benchmarks/assist_latency.py --quick    # 20,000 tickets, 30 requests per URL

Loads the tickets of benchmarks/tickets_pages.py (every subject says "el datáfono no imprime",
so every resolved ticket is a candidate: the worst case of assist.selectors._ranked), then
measures, through Django's test Client in-process: the ticket page of an agent (the panels
load after it, so it must stay under the ticket pages' goal, p95 < 150 ms), similar tickets,
"same problem" and related articles of that ticket. Prints one JSON object (p50/p95/max ms,
queries, and CPU ms per request of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_assist")

from benchmarks import tickets_pages  # noqa: E402  (sets the rest of the environment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tickets and 30 requests per URL")
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    requests = 30 if args.quick else 100

    def log(message: str) -> None:
        print(f"[assist_latency] {message}", file=sys.stderr, flush=True)

    tickets_pages.ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from tickets.models import Ticket

    settings.ASSIST_RATE = "0"  # the panels' per-user limit would refuse a benchmark's pace
    call_command("migrate", verbosity=0)
    users = tickets_pages.load(n, log)
    clients = {}
    for role in ("agent", "franchisee"):
        clients[role] = Client()
        clients[role].force_login(users[role])
    ticket = Ticket.objects.filter(status="open", franchise=users["franchisee"].franchise).order_by("-id").first()
    urls = [
        ("agent", f"/tickets/{ticket.pk}/"),
        ("agent", f"/assist/tickets/{ticket.pk}/similar/"),
        ("agent", f"/assist/articles/?ticket={ticket.pk}"),
        ("franchisee", "/assist/same-problem/?subject=el+datafono+no+imprime&description="),
    ]
    results = []
    for role, url in urls:
        log(f"{role} {url}")
        cpu = time.process_time()
        result = tickets_pages.measure(clients[role], url, requests)
        result["cpu_ms_per_request"] = round((time.process_time() - cpu) * 1000 / (requests + 4), 1)
        results.append({"role": role, **result})
    print(json.dumps({"tickets": n, "requests_per_url": requests, "urls": results}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
