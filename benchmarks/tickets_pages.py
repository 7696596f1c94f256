"""Server time of /agent/ and /tickets/ with 100,000 tickets in PostgreSQL.

    .venv/bin/python benchmarks/tickets_pages.py            # 100,000 tickets, 200 requests per page
    .venv/bin/python benchmarks/tickets_pages.py --quick    # 20,000 tickets, 50 requests per page

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_tickets; the database is
created if missing, migrated, and the ticket tables are reloaded with bulk_create when the
row count differs; tags, a custom field, the search documents and 8 saved views are added
once; the audit log's events — 2 to 3 per ticket — and 20,000 chats with their agents' first
messages too). Requests go through Django's test Client in-process (full middleware, views,
templates; no network). Prints one JSON object: p50/p95/max wall ms, the process's CPU ms and the
query count of each page (dashboard, lists, saved-view tabs, the supervisors' figures and audit
log), the uncached team figures, the uncached figures over 30 and 366 days, the uncached recount
of each saved-view tab, and the load average before and after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_tickets"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

FRANCHISES = 20
AGENTS = 10
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]
CATEGORIES = ["tpv", "red", "facturacion", "pedidos", "otros"]


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def load(n: int, log) -> dict:
    """Users, franchises, categories and n tickets (only reloaded when the count differs)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Franchise, User
    from tickets.models import Category, Ticket

    password = make_password("bench-pass")
    with transaction.atomic():
        franchises = [
            Franchise.objects.get_or_create(code=f"bench-{i:02d}", defaults={"name": f"Franquicia {i:02d}"})[0]
            for i in range(FRANCHISES)
        ]
        franchisees = [
            User.objects.get_or_create(
                username=f"bench_fran_{i:02d}",
                defaults={"role": "franchisee", "franchise": f, "password": password},
            )[0]
            for i, f in enumerate(franchises)
        ]
        agents = [
            User.objects.get_or_create(
                username=f"bench_agent_{i:02d}",
                defaults={"role": "agent", "password": password, "is_staff": True, "first_name": f"Agente {i}"},
            )[0]
            for i in range(AGENTS)
        ]
        supervisor = User.objects.get_or_create(
            username="bench_supervisor",
            defaults={"role": "supervisor", "password": password, "is_staff": True, "is_superuser": True},
        )[0]
        categories = [Category.objects.get_or_create(slug=s, defaults={"name": s.title()})[0] for s in CATEGORIES]

    users = {"franchisee": franchisees[0], "agent": agents[0], "supervisor": supervisor}
    if Ticket.objects.count() == n:
        log(f"{n} tickets already loaded")
        load_labels(categories[0], log)
        load_audit_and_chats(franchisees, agents, log)
        return users

    log(f"loading {n} tickets ...")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tickets_ticket, tickets_comment, tickets_event, tickets_attachment, "
            "tickets_ticket_watchers RESTART IDENTITY CASCADE"
        )
    rng = random.Random(42)
    now = timezone.now()
    batch: list[Ticket] = []
    for i in range(n):
        created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        roll = rng.random()
        status = (
            "closed"
            if roll < 0.70
            else "resolved"
            if roll < 0.80
            else rng.choice(["new", "open", "open", "pending", "on_hold"])
        )
        franchise_index = rng.randrange(FRANCHISES)
        assignee = None if status == "new" or rng.random() < 0.05 else rng.choice(agents)
        first_response = created + timedelta(minutes=rng.randint(5, 24 * 60)) if status != "new" else None
        resolved = (
            created + timedelta(minutes=rng.randint(60, 7 * 24 * 60)) if status in ("resolved", "closed") else None
        )
        rated = resolved and rng.random() < 0.4
        batch.append(
            Ticket(
                franchise=franchises[franchise_index],
                requester=franchisees[franchise_index],
                subject=f"Incidencia {i}: el datáfono no imprime tras la actualización",
                description="Desde esta mañana el terminal muestra un error al imprimir. " * 4,
                category=rng.choice(categories),
                priority=rng.choice(PRIORITIES),
                status=status,
                assignee=assignee,
                created_at=created,
                first_response_due=created + timedelta(hours=8),
                resolution_due=created + timedelta(days=3),
                first_response_risk_at=created + timedelta(hours=6),
                resolution_risk_at=created + timedelta(days=2, hours=6),
                sla_state=rng.choice(["ok", "ok", "ok", "at_risk", "breached"]),
                sla_paused_at=now if status == "pending" else None,
                first_response_at=first_response,
                resolved_at=resolved,
                closed_at=resolved + timedelta(days=7) if status == "closed" else None,
                rating=rng.randint(1, 5) if rated else None,
                rated_at=resolved + timedelta(hours=2) if rated else None,
            )
        )
        if len(batch) == 5000:
            Ticket.objects.bulk_create(batch)
            batch = []
    if batch:
        Ticket.objects.bulk_create(batch)
    # auto_now_add overwrote created_at: put the spread back in one statement
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET created_at = first_response_due - interval '8 hours'")
        cursor.execute("ANALYZE tickets_ticket")
    log(f"loaded in {time.perf_counter() - started:.1f} s")
    load_labels(categories[0], log)
    load_audit_and_chats(franchisees, agents, log)
    return users


TAGS = ["impresora", "red", "caja", "actualizacion", "bateria", "vip"]


def load_labels(category, log) -> None:
    """Tags on ~30 % of the tickets and a custom field ("modelo", a list) on the first category's
    tickets, written in SQL in a few statements (once: skipped when already there)."""
    from django.db import connection

    from tickets import search
    from tickets.models import CustomField, Tag, Ticket, TicketSearch

    if TicketSearch.objects.count() != Ticket.objects.count():
        started = time.perf_counter()
        TicketSearch.objects.all().delete()
        search.rebuild()  # ends with ANALYZE
        log(f"search documents built in {time.perf_counter() - started:.1f} s")
    if Ticket.tags.through.objects.exists():
        return
    started = time.perf_counter()
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    field, _ = CustomField.objects.get_or_create(
        category=category, key="modelo", defaults={"label": "Modelo", "kind": "choice", "options": "A920\nV200c"}
    )
    with connection.cursor() as cursor:
        for i, tag in enumerate(tags):  # tag i on the tickets whose id % 20 == i (and vip on 1 in 100)
            modulo, rest = (100, 7) if tag.name == "vip" else (20, i)
            cursor.execute(
                "INSERT INTO tickets_ticket_tags (ticket_id, tag_id) "
                "SELECT id, %s FROM tickets_ticket WHERE id %% %s = %s",
                [tag.pk, modulo, rest],
            )
        cursor.execute(
            "INSERT INTO tickets_customvalue (ticket_id, field_id, text) "
            "SELECT id, %s, CASE WHEN id %% 2 = 0 THEN 'A920' ELSE 'V200c' END "
            "FROM tickets_ticket WHERE category_id = %s",
            [field.pk, category.pk],
        )
        cursor.execute("ANALYZE tickets_ticket_tags")
        cursor.execute("ANALYZE tickets_customvalue")
    log(f"tags and custom values loaded in {time.perf_counter() - started:.1f} s")


CHATS = 20_000


def load_audit_and_chats(franchisees, agents, log) -> None:
    """Timeline events for the audit log (each ticket's creation, its first status change, a
    priority change on 1 in 7, through the web, the API or the admin) and CHATS closed chats over
    the year, each with the agent's first message (the figures' chat half). Once: skipped when
    there."""
    from django.db import connection
    from django.utils import timezone

    from chat.models import Conversation, Message
    from tickets.models import Event

    started = time.perf_counter()
    if not Event.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO tickets_event (ticket_id, actor_id, kind, old_value, new_value, internal, via, "
                "created_at) "
                "SELECT id, requester_id, 'created', '', '', false, 'web', created_at FROM tickets_ticket "
                "UNION ALL SELECT id, assignee_id, 'status', 'new', status, false, "
                "CASE WHEN id %% %s = 0 THEN 'api' ELSE 'web' END, first_response_at "
                "FROM tickets_ticket WHERE first_response_at IS NOT NULL "
                "UNION ALL SELECT id, assignee_id, 'priority', 'normal', priority, false, 'admin', "
                "created_at + interval '1 hour' FROM tickets_ticket WHERE id %% %s = 0",
                [10, 7],
            )
            cursor.execute("ANALYZE tickets_event")
        log(f"audit events loaded in {time.perf_counter() - started:.1f} s")
    if Conversation.objects.count() >= CHATS:
        return
    started = time.perf_counter()
    Conversation.objects.all().delete()
    rng = random.Random(7)
    now = timezone.now()
    for first in range(0, CHATS, 5000):
        batch = []
        for _ in range(first, min(first + 5000, CHATS)):
            franchisee = rng.choice(franchisees)
            agent = rng.choice(agents)
            created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
            batch.append(
                Conversation(
                    franchise_id=franchisee.franchise_id,
                    franchisee=franchisee,
                    agent=agent,
                    status=Conversation.Status.CLOSED,
                    topic="La impresora no responde",
                    created_at=created,
                    accepted_at=created + timedelta(minutes=rng.randint(0, 5)),
                    closed_at=created + timedelta(minutes=rng.randint(6, 40)),
                    closed_by=agent,
                    last_activity_at=created + timedelta(minutes=40),
                    resolved_in_chat=rng.random() < 0.6,
                    rating=rng.randint(1, 5) if rng.random() < 0.3 else None,
                )
            )
        Conversation.objects.bulk_create(batch)
        Message.objects.bulk_create(
            Message(
                conversation=c,
                author_id=c.agent_id,
                body="Hola, ¿en qué puedo ayudarte?",
                created_at=c.accepted_at + timedelta(seconds=30),
            )
            for c in batch
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_conversation")
        cursor.execute("ANALYZE chat_message")
    log(f"{CHATS} chats loaded in {time.perf_counter() - started:.1f} s")


SAVED_VIEWS = [
    ("Urgentes", "view=open&priority=urgent", False),
    ("Incumplidos", "view=open&sla=breached", True),
    ("Mis pendientes", "view=mine&status=pending", False),
    ("Impresoras", "view=open&tag=impresora", True),
    ("VIP en riesgo", "view=open&tag=vip&sla=at_risk", True),
    ("Datáfono", "view=open&q=datáfono&priority=high", False),
    ("Modelo A920", "view=open&category={category}&cf_{field}=A920", True),
    ("Sin asignar de la 03", "view=unassigned&franchise={franchise}", False),
]


def saved_views(agent) -> list:
    """The agent's tabs (8 saved views, some shared); created once."""
    from accounts.models import Franchise
    from tickets import services
    from tickets.models import CustomField, SavedView

    field = CustomField.objects.get(key="modelo")
    franchise = Franchise.objects.get(code="bench-03")
    values = {"category": field.category_id, "field": field.pk, "franchise": franchise.pk}
    for name, query, shared in SAVED_VIEWS:
        if not SavedView.objects.filter(owner=agent, name=name).exists():
            services.save_view(actor=agent, name=name, query=query.format(**values), shared=shared)
    return list(SavedView.objects.filter(owner=agent).order_by("position"))


def measure_tab_counts(agent, views, runs: int) -> dict:
    """What one recount of a tab costs (the background refresh, or the first request of a new view)."""
    from django.http import QueryDict

    from tickets import selectors, tab_counts

    per_tab = {}
    for view in views:
        filters = selectors.filters_from_query(QueryDict(view.query))
        tab_counts.count(agent, filters)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            result = tab_counts.count(agent, filters)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        per_tab[view.name] = {
            "count": str(result),
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        }
    return per_tab


def measure(client, url: str, requests: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm up (template cache, connection)
        assert client.get(url).status_code == 200, url
    reset_queries()  # the log is cleared at each request start; begin from empty so the count is right
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    timings, cpu = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)  # this process only (not PostgreSQL's)
        assert response.status_code == 200, url
    timings.sort()
    cpu.sort()
    return {
        "url": url,
        "requests": requests,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "cpu_p95_ms": round(cpu[int(0.95 * (len(cpu) - 1))], 1),
        "queries": len(ctx.captured_queries),
    }


def measure_figures(runs: int) -> dict:
    """The supervisor's team figures computed without the 60 s cache (what the first request pays)."""
    from tickets.figures import team_figures

    team_figures()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        team_figures()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "runs": runs,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
    }


def measure_range_figures(runs: int) -> dict:
    """The supervisors' figures page's computation without its 60 s cache, over 30 and 366 days."""
    from django.utils import timezone

    from tickets.breakdowns import range_figures

    today = timezone.localdate()
    result = {}
    for days in (30, 366):
        start = today - timedelta(days=days - 1)
        range_figures(start, today)
        timings, cpu = [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            range_figures(start, today)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        timings.sort()
        cpu.sort()
        result[f"{days}_days"] = {
            "runs": runs,
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
            "cpu_p95_ms": round(cpu[int(0.95 * (len(cpu) - 1))], 1),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tickets and 50 requests per page")
    parser.add_argument("--tickets", type=int, help="override the number of tickets")
    parser.add_argument("--requests", type=int, help="override the number of requests per page")
    args = parser.parse_args()
    n = args.tickets or (20_000 if args.quick else 100_000)
    requests = args.requests or (50 if args.quick else 200)

    def log(message: str) -> None:
        print(f"[tickets_pages] {message}", file=sys.stderr, flush=True)

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    users = load(n, log)
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)

    views = saved_views(users["agent"])
    from django.utils import timezone

    from accounts.models import Franchise

    year_ago = (timezone.localdate() - timedelta(days=365)).isoformat()
    franchise = Franchise.objects.get(code="bench-03").pk
    pages = [
        ("supervisor", "/agent/"),  # queues + team figures (cached 60 s; uncached cost measured below)
        ("agent", "/agent/?view=mine"),  # + 3 queue tabs and 8 saved-view tabs, counts cached
        ("agent", "/agent/?view=open&priority=high&sla=at_risk"),
        ("agent", "/agent/?view=open&tag=impresora"),
        *[("agent", f"/agent/?saved={view.pk}") for view in views],
        ("agent", "/agent/views/"),
        ("franchisee", "/tickets/"),
        ("franchisee", "/tickets/?status=closed&q=datáfono"),
        ("agent", "/tickets/"),
        ("agent", "/tickets/?tag=vip"),
        # the supervisors' reports: figures over a range (cached 60 s; uncached below) and the audit log
        ("supervisor", "/agent/reports/figures/"),
        ("supervisor", f"/agent/reports/figures/?start={year_ago}"),
        ("supervisor", "/agent/reports/audit/"),
        ("supervisor", f"/agent/reports/audit/?franchise={franchise}&kind=status"),
        ("supervisor", "/agent/reports/audit/?actor=bench_agent_03&via=api"),
        ("supervisor", "/agent/reports/audit/?page=100"),
    ]
    load_before = os.getloadavg()
    results = []
    for role, url in pages:
        log(f"{role} {url}")
        results.append({"role": role, **measure(clients[role], url, requests)})
    log("team figures, uncached")
    figures_uncached = measure_figures(max(10, requests // 10))
    log("tab recounts, uncached")
    recounts = measure_tab_counts(users["agent"], views, max(10, requests // 10))
    log("figures over a date range, uncached")
    range_uncached = measure_range_figures(max(10, requests // 10))
    worst = max(r["p95_ms"] for r in results)
    worst_cpu = max(r["cpu_p95_ms"] for r in results)
    print(
        json.dumps(
            {
                "tickets": n,
                "requests_per_page": requests,
                "database": "postgresql",
                "pages": results,
                "team_figures_uncached": figures_uncached,
                "tab_recount_uncached": recounts,
                "range_figures_uncached": range_uncached,
                "load_average": {
                    "before": [round(x, 2) for x in load_before],
                    "after": [round(x, 2) for x in os.getloadavg()],
                },
                "worst_p95_ms": worst,
                "worst_cpu_p95_ms": worst_cpu,
                "goal_p95_ms": 150,
                "goal_met": worst < 150,
                "cpu_goal_met": worst_cpu < 150,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
