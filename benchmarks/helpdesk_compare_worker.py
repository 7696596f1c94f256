"""One side of benchmarks/helpdesk_compare.py, in its own process with its own Django settings.

    <python> benchmarks/helpdesk_compare_worker.py ours       # the portal (.venv, support_portal.settings)
    <python> benchmarks/helpdesk_compare_worker.py helpdesk   # django-helpdesk (var/helpdesk_bench/venv)

The driver sends one JSON command per line on stdin and reads one JSON answer per line on stdout
(anything else the process prints goes to stderr). Commands: `setup` (migrate, seed, log in),
`scenario` (who is told on create), `run` (N creations over HTTP or through the service, each timed:
wall, process CPU, queries, e-mails), `capture` (the SQL of one creation), `profile` (cProfile of N
creations) and `quit`. Only the standard library is imported before Django is set up, so the same
file runs in both virtual environments.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import sys
import time
import traceback
from datetime import timedelta
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUBJECT = "La TPV no imprime los tickets de venta desde la actualización {i}"
DESCRIPTION = (
    "Desde esta mañana el terminal de caja muestra un error al imprimir el ticket de venta. "
    "Hemos reiniciado la impresora y el TPV, comprobado el papel y el cable, y sigue igual. "
    "Adjunto el mensaje que aparece en pantalla: «Error 0x1F: impresora no disponible». "
    "Necesitamos imprimir para cerrar la caja del día."
)
PASSWORD = "bench-pass-0000"  # throwaway users of a throwaway database


class QueryCounter:
    """connection.execute_wrapper(): counts statements without keeping them (cheap enough to time)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def _status_mix(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.70:
        return "closed"
    if roll < 0.80:
        return "resolved"
    return rng.choice(["new", "open", "open", "pending", "on_hold"])


class Side:
    """What both sides share: timing loops, query capture, profiling."""

    name = ""

    def __init__(self) -> None:
        self.counter = QueryCounter()
        self.sequence = 0

    # each side implements these
    def create_http(self, i: int) -> int: ...
    def create_service(self, i: int) -> None: ...
    def after_run(self, started) -> dict:
        return {}

    def forget_pushes(self) -> None: ...

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def _one(self, mode: str) -> tuple[float, float, int, int, int]:
        """(wall ms, CPU ms, statements, e-mails sent, their recipients) of one creation."""
        from django.core import mail

        i = self._next()
        mails = len(mail.outbox)
        self.counter.n = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        status = self.create_http(i) if mode == "http" else (self.create_service(i) or 0)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        sent = sum(len(m.recipients()) for m in mail.outbox[mails:])
        messages = len(mail.outbox) - mails
        if mode == "http" and status != 302:
            raise RuntimeError(f"{self.name}: creation {i} answered {status}, not the redirect")
        return wall * 1000, cpu * 1000, self.counter.n, messages, sent

    def run(self, mode: str, n: int) -> dict:
        from django.core import mail
        from django.db import connection
        from django.utils import timezone

        started = timezone.now()
        samples = []
        with connection.execute_wrapper(self.counter):
            for _ in range(n):
                samples.append(self._one(mode))
        mail.outbox.clear()
        return {"samples": samples, **self.after_run(started)}

    def capture(self, mode: str = "http") -> dict:
        from django.core import mail
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        i = self._next()
        with CaptureQueriesContext(connection) as ctx:
            self.create_http(i) if mode == "http" else self.create_service(i)
        mail.outbox.clear()
        return {"queries": [q["sql"][:160] for q in ctx.captured_queries]}

    def profile(self, mode: str, n: int, path: str, top: int = 40, cpu: bool = False, sort: str = "cumulative") -> dict:
        from django.core import mail

        profiler = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            i = self._next()
            self.create_http(i) if mode == "http" else self.create_service(i)
        profiler.disable()
        mail.outbox.clear()
        profiler.dump_stats(path)
        out = StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
        return {"path": path, "text": out.getvalue()}

    # Where the CPU of one creation goes: the process's CPU time inside each of the side's PHASES
    # (module, function or Class.method), per creation; nested calls count in their callers too.
    # Wrapped for this command only, after 3 creations that load whatever a first call loads.
    PHASES: tuple[tuple[str, str], ...] = ()

    def phases(self, mode: str, n: int) -> dict:
        import functools
        import importlib

        from django.core import mail

        spent: dict[str, float] = {}
        restore = []
        for _ in range(3):  # not wrapped: whatever a first call loads
            i = self._next()
            self.create_http(i) if mode == "http" else self.create_service(i)
        for module_name, name in self.PHASES:
            module = importlib.import_module(module_name)
            owner_name, _dot, name = name.rpartition(".")
            if owner_name:  # a method: wrapped on its class
                module = getattr(module, owner_name)
            original = getattr(module, name)

            def timed(*args, _original=original, _label=f"{module_name}.{owner_name}{_dot}{name}", **kwargs):
                began = time.process_time()
                try:
                    return _original(*args, **kwargs)
                finally:
                    spent[_label] = spent.get(_label, 0.0) + time.process_time() - began

            setattr(module, name, functools.wraps(original)(timed))
            restore.append((module, name, original))
        try:
            began = time.process_time()
            for _ in range(n):
                i = self._next()
                self.create_http(i) if mode == "http" else self.create_service(i)
            total = time.process_time() - began
        finally:
            for module, name, original in restore:
                setattr(module, name, original)
            mail.outbox.clear()
        self.forget_pushes()
        return {
            "mode": mode,
            "creations": n,
            "cpu_ms_per_creation": round(total / n * 1000, 2),
            "inside_ms_per_creation": {
                k: round(v / n * 1000, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])
            },
        }


# --- the portal -------------------------------------------------------------------------------


class Ours(Side):
    name = "ours"
    PHASES = (
        ("tickets.services", "create_ticket"),
        ("tickets.sla", "apply_policy"),
        ("tickets.assignment", "pick_assignee"),
        ("tickets.services", "_agents_for"),
        ("tickets.custom_fields", "validate"),
        ("tickets.services", "_events"),
        ("tickets.search", "refresh"),
        ("tickets.services", "_tell"),
        ("notifications.services", "_deliver"),
        ("notifications.services", "push_to_groups"),
        ("notifications.tasks", "build_email"),
        ("api.webhooks", "dispatch"),
        ("tickets.tab_counts", "changed"),
        ("celery.app.task", "Task.apply"),  # an e-mail task run in the request (Celery eager)
        ("django.core.mail.message", "EmailMessage.send"),
    )

    def setup(self, tickets: int, agents: int, franchises: int, categories: int) -> dict:
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.test import Client
        from django.utils import timezone

        from accounts.models import Franchise, User
        from notifications.models import Notification
        from tickets import search
        from tickets.models import Category, Event, Ticket, TicketSearch

        call_command("migrate", verbosity=0)
        password = make_password(PASSWORD)
        with transaction.atomic():
            User.objects.filter(role__in=(User.Role.AGENT, User.Role.SUPERVISOR)).exclude(
                username__startswith="hd_agent_"
            ).update(is_active=False)
            fran = [
                Franchise.objects.get_or_create(code=f"hd-{i:02d}", defaults={"name": f"Franquicia {i:02d}"})[0]
                for i in range(franchises)
            ]
            franchisees = [
                User.objects.get_or_create(
                    username=f"hd_fran_{i:02d}",
                    defaults={"role": "franchisee", "franchise": f, "password": password,
                              "email": f"fran{i:02d}@bench.example"},
                )[0]
                for i, f in enumerate(fran)
            ]  # fmt: skip
            team = [
                User.objects.get_or_create(
                    username=f"hd_agent_{i}",
                    defaults={"role": "agent", "password": password, "is_staff": True,
                              "first_name": f"Agente {i}", "email": f"agent{i}@bench.example"},
                )[0]
                for i in range(agents)
            ]  # fmt: skip
            User.objects.filter(pk__in=[u.pk for u in team]).update(is_active=True)
            cats = [
                Category.objects.get_or_create(slug=f"hd-{i}", defaults={"name": f"Cola {i}"})[0]
                for i in range(categories)
            ]
            for category in cats:
                category.agents.set(team)

        reseeded = Ticket.objects.count() != tickets
        if reseeded:  # every run adds tickets: start again from the same seeded data
            with connection.cursor() as cursor:
                cursor.execute(
                    "TRUNCATE tickets_ticket, tickets_comment, tickets_event, tickets_attachment, "
                    "tickets_ticket_watchers, notifications_notification RESTART IDENTITY CASCADE"
                )
            rng, now = random.Random(42), timezone.now()
            rows = []
            for i in range(tickets):
                created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
                status = _status_mix(rng)
                k = rng.randrange(franchises)
                rows.append(
                    Ticket(
                        franchise=fran[k], requester=franchisees[k], category=cats[i % categories],
                        subject=f"Incidencia {i}: el datáfono no imprime tras la actualización",
                        description=DESCRIPTION, status=status,
                        assignee=None if status == "new" else team[rng.randrange(agents)],
                        first_response_due=created + timedelta(hours=8), resolution_due=created + timedelta(days=3),
                        resolved_at=created + timedelta(days=1) if status in ("resolved", "closed") else None,
                        closed_at=created + timedelta(days=8) if status == "closed" else None,
                    )
                )  # fmt: skip
            created_rows = Ticket.objects.bulk_create(rows, batch_size=2000)
            Ticket.watchers.through.objects.bulk_create(
                [Ticket.watchers.through(ticket_id=t.pk, user_id=t.requester_id) for t in created_rows],
                batch_size=5000,
            )
            Event.objects.bulk_create(
                [
                    Event(ticket=t, actor_id=t.requester_id, kind=Event.Kind.CREATED, new_value="new")
                    for t in created_rows
                ],
                batch_size=5000,
            )
            TicketSearch.objects.all().delete()
            search.rebuild()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.team, self.franchisee, self.categories = team, franchisees[0], cats
        self.client = Client()
        self.client.force_login(self.franchisee, backend="django.contrib.auth.backends.ModelBackend")
        self._listen([u.pk for u in team] + [self.franchisee.pk])
        return {
            "tickets": Ticket.objects.count(),
            "reseeded": reseeded,
            "agents": len(team),
            "franchises": len(fran),
            "categories": len(cats),
            "notifications": Notification.objects.count(),
        }

    # The pushes go to a real Redis channel layer; one channel per told user is added to their
    # group, as a connected bell socket would be. After each run the messages waiting for those
    # channels are counted and deleted in Redis (outside the timing): they share one key, the
    # layer's per-process key of its specific channels.
    def _listen(self, user_ids: list[int]) -> None:
        import asyncio

        import redis
        from channels.layers import channel_layers

        from notifications.services import user_group

        layer = channel_layers.make_backend("default")

        async def add() -> list[str]:
            names = []
            for user_id in user_ids:
                name = await layer.new_channel()
                await layer.group_add(user_group(user_id), name)
                names.append(name)
            await layer.close_pools()
            return names

        names = asyncio.run(add())
        self.channel_keys = sorted({layer.prefix + layer.non_local_name(name) for name in names})
        self.redis = redis.Redis.from_url(os.environ["REDIS_URL"])

    def forget_pushes(self) -> None:
        self._drain()

    def _drain(self) -> int:
        waiting = sum(self.redis.zcard(key) for key in self.channel_keys)
        self.redis.delete(*self.channel_keys)
        self.redis.delete("celery")  # e-mails queued with --queue-emails: no worker sends them
        return waiting

    def scenario(self, name: str) -> dict:
        from django.test.utils import override_settings

        if getattr(self, "_override", None):
            self._override.disable()
        mode = {"told": "off", "assigned": "least_loaded"}[name]
        self._override = override_settings(TICKETS_AUTO_ASSIGN=mode)
        self._override.enable()
        self._drain()
        return {"TICKETS_AUTO_ASSIGN": mode}

    def _category(self, i: int):
        return self.categories[i % len(self.categories)]

    def create_http(self, i: int) -> int:
        from support_portal.idempotency import new_token

        response = self.client.post(
            "/tickets/new/",
            {
                "subject": SUBJECT.format(i=i),
                "description": DESCRIPTION,
                "category": str(self._category(i).pk),
                "priority": "normal",
                "submission_token": new_token(),  # what the rendered form carries
            },
            secure=True,
        )
        return response.status_code

    def create_service(self, i: int) -> None:
        from tickets import services

        services.create_ticket(
            actor=self.franchisee,
            subject=SUBJECT.format(i=i),
            description=DESCRIPTION,
            category=self._category(i),
            priority="normal",
        )

    def after_run(self, started) -> dict:
        from notifications.models import Notification
        from tickets.models import Ticket

        return {
            "created": Ticket.objects.filter(created_at__gte=started).count(),
            "notifications": Notification.objects.filter(created_at__gte=started).count(),
            "pushes": self._drain(),
        }


# --- django-helpdesk --------------------------------------------------------------------------


class Helpdesk(Side):
    name = "helpdesk"
    PHASES = (
        ("helpdesk.forms", "PublicTicketForm.save"),
        ("helpdesk.models", "Ticket.send"),  # its e-mails, sent in the request
        ("helpdesk.models", "send_templated_mail"),
        ("django.core.mail.message", "EmailMessage.send"),
    )

    def setup(self, tickets: int, agents: int, franchises: int, categories: int) -> dict:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection, transaction
        from django.test import Client
        from django.utils import timezone
        from helpdesk.models import FollowUp, Queue, Ticket

        User = get_user_model()
        call_command("migrate", verbosity=0)
        password = make_password(PASSWORD)
        with transaction.atomic():
            submitters = [
                User.objects.get_or_create(
                    username=f"hd_fran_{i:02d}", defaults={"password": password, "email": f"fran{i:02d}@bench.example"}
                )[0]
                for i in range(franchises)
            ]
            team = [
                User.objects.get_or_create(
                    username=f"hd_agent_{i}",
                    defaults={"password": password, "is_staff": True, "first_name": f"Agente {i}",
                              "email": f"agent{i}@bench.example"},
                )[0]
                for i in range(agents)
            ]  # fmt: skip
            queues = []
            for i in range(categories):
                queue = Queue.objects.filter(slug=f"hd-{i}").first() or Queue(slug=f"hd-{i}", title=f"Cola {i}")
                queue.allow_public_submission = True
                queue.locale = "es"
                queue.save()
                queues.append(queue)

        reseeded = Ticket.objects.count() != tickets
        if reseeded:
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE helpdesk_ticket RESTART IDENTITY CASCADE")
            rng, now = random.Random(42), timezone.now()
            status_of = {"new": Ticket.OPEN_STATUS, "open": Ticket.OPEN_STATUS, "pending": Ticket.OPEN_STATUS,
                         "on_hold": Ticket.OPEN_STATUS, "resolved": Ticket.RESOLVED_STATUS,
                         "closed": Ticket.CLOSED_STATUS}  # fmt: skip
            rows = []
            for i in range(tickets):
                created = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
                status = _status_mix(rng)
                k = rng.randrange(franchises)
                rows.append(
                    Ticket(
                        queue=queues[i % categories], submitter_email=submitters[k].email,
                        title=f"Incidencia {i}: el datáfono no imprime tras la actualización",
                        description=DESCRIPTION, status=status_of[status], on_hold=status == "on_hold",
                        assigned_to=None if status == "new" else team[rng.randrange(agents)],
                        created=created, modified=created, priority=3,
                    )
                )  # fmt: skip
            created_rows = Ticket.objects.bulk_create(rows, batch_size=2000)
            FollowUp.objects.bulk_create(
                [FollowUp(ticket=t, title="Ticket Opened Via Web", comment=DESCRIPTION, public=True, date=t.created)
                 for t in created_rows],
                batch_size=5000,
            )  # fmt: skip
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.team, self.submitter, self.queues = team, submitters[0], queues
        self.client = Client()
        self.client.force_login(self.submitter)
        return {
            "tickets": Ticket.objects.count(),
            "reseeded": reseeded,
            "agents": len(team),
            "submitters": len(submitters),
            "queues": len(queues),
        }

    def scenario(self, name: str) -> dict:
        """told: every queue's new-ticket CC is the agents' addresses (one e-mail to all of them);
        assigned: each queue has an agent as default owner, who is e-mailed; no CC."""
        from helpdesk.models import Queue

        cc = ",".join(u.email for u in self.team)
        for i, queue in enumerate(self.queues):
            queue.new_ticket_cc = cc if name == "told" else ""
            queue.default_owner = self.team[i % len(self.team)] if name == "assigned" else None
            queue.save()
        self.queues = list(Queue.objects.filter(pk__in=[q.pk for q in self.queues]).order_by("pk"))
        return {"new_ticket_cc": cc if name == "told" else "", "default_owner": name == "assigned"}

    def _data(self, i: int) -> dict:
        return {
            "queue": str(self.queues[i % len(self.queues)].pk),
            "title": SUBJECT.format(i=i),
            "body": DESCRIPTION,
            "priority": "3",
            "submitter_email": self.submitter.email,
            "due_date": "",
        }

    def create_http(self, i: int) -> int:
        return self.client.post("/helpdesk/tickets/submit/", self._data(i), secure=True).status_code

    def create_service(self, i: int) -> None:
        from helpdesk.forms import PublicTicketForm

        form = PublicTicketForm(data=self._data(i))
        if not form.is_valid():
            raise RuntimeError(f"helpdesk form invalid: {form.errors}")
        form.save(user=self.submitter)

    def after_run(self, started) -> dict:
        from helpdesk.models import FollowUp, Ticket

        return {
            "created": Ticket.objects.filter(created__gte=started).count(),
            "followups": FollowUp.objects.filter(date__gte=started).count(),
            "pushes": 0,
        }


def main() -> None:
    side = sys.argv[1]
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else is printed goes to stderr, not into the answers
    if side == "ours":
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core import mail

    mail.outbox = []  # the locmem backend's outbox (created on first use otherwise)
    impl: Side = Ours() if side == "ours" else Helpdesk()
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        try:
            reply = {"ok": True, **getattr(impl, name)(**command)}
        except Exception:  # noqa: BLE001 (any failure goes back to the driver, which stops)
            reply = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
