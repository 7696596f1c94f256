"""Ticket creation beside django-helpdesk, same run, same machine, same data (issue 13).

    .venv/bin/python benchmarks/helpdesk_compare.py                 # 5,000 tickets, 10 ABAB rounds × 20 creations
    .venv/bin/python benchmarks/helpdesk_compare.py --quick         # 2,000 tickets, 4 rounds × 10
    .venv/bin/python benchmarks/helpdesk_compare.py --tickets 20000 --rounds 6 --requests 50 --phases --profile

What it does:
- django-helpdesk (pinned below) is installed from PyPI into its own virtual environment,
  var/helpdesk_bench/venv (gitignored; created on the first run, reused after, reinstalled when a pin
  changes), with the same Django version as ours; a minimal throwaway project for it is written to
  var/helpdesk_bench/project (PostgreSQL, locmem e-mail, DEBUG off).
- Two PostgreSQL databases on --postgres: bench_helpdesk_ours (the portal) and bench_helpdesk_dh
  (django-helpdesk), migrated and seeded with the same shape: --categories queues/categories, --agents
  support agents, --franchises franchisees/submitters and --tickets existing tickets (same status mix,
  70 % closed), reseeded at the start of every run so each run starts from the same data.
- Each side runs in its own process with its own settings (benchmarks/helpdesk_compare_worker.py),
  driven over stdin/stdout. Per scenario, both sides warm up, then run rounds in ABAB order: N HTTP
  POSTs of the ticket-creation form through the project's own Django test Client (the portal: a
  logged-in franchisee on /tickets/new/, with the form's one-time token; django-helpdesk: a logged-in
  non-staff user on its submit view /helpdesk/tickets/submit/), then N service-level creations
  (the portal: tickets.services.create_ticket; django-helpdesk: PublicTicketForm.save, what its view calls).
  Everything done on create is inside the timing: the portal's audit events, notifications, the
  after-commit pushes to a real Redis channel layer (one channel per told user joined to their group,
  as an open bell would be; drained and counted after each round) and e-mails (Celery eager, locmem
  backend); django-helpdesk's follow-up and e-mails (locmem backend, rendered from its templates).
- Scenarios: `told` (nobody assigned: the portal with TICKETS_AUTO_ASSIGN=off notifies the category's
  agents; django-helpdesk e-mails the queue's new-ticket CC, the same agents' addresses) and `assigned`
  (the portal's default least-loaded assignment among the category's agents; django-helpdesk's queue
  default owner). Both sides e-mail or notify the submitter as each product does.
- Per creation: wall time, CPU time of the worker process (`time.process_time()`; PostgreSQL's and
  Redis' own CPU not included), statements (`connection.execute_wrapper`), e-mails and recipients; the
  SQL of one creation per side (CaptureQueriesContext). Load average and machine busy share too.

REDIS_URL or --redis-url: the portal's channel layer, cache and broker (e.g. redis://127.0.0.1:6379/4);
otherwise a throwaway redis-server on a free port. Prints one JSON object and writes it, with the
command and the machine, to benchmarks/results/helpdesk_compare.json (--output to change, --no-write
to skip). --profile writes a cProfile of the portal's HTTP creations to var/helpdesk_bench/; --phases
adds, after the timed rounds, each side's CPU time per creation inside its main calls (the portal:
SLA, assignment, notifications, pushes, e-mails, webhooks...; django-helpdesk: its form's save and
e-mails), measured on N more creations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info  # noqa: E402

HELPDESK_VERSION = "2.6.1"
BENCH_DIR = ROOT / "var" / "helpdesk_bench"
VENV = BENCH_DIR / "venv"
PROJECT = BENCH_DIR / "project"
WORKER = ROOT / "benchmarks" / "helpdesk_compare_worker.py"
RESULT = ROOT / "benchmarks" / "results" / "helpdesk_compare.json"
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASES = {"ours": "bench_helpdesk_ours", "helpdesk": "bench_helpdesk_dh"}
SCENARIOS = ("told", "assigned")
MODES = ("http", "service")


def log(message: str) -> None:
    print(f"[helpdesk_compare] {message}", file=sys.stderr, flush=True)


# --- django-helpdesk's environment and project --------------------------------------------------


def pins() -> list[str]:
    """What the helpdesk venv holds: django-helpdesk pinned, Django and psycopg at our versions."""
    return [
        f"django-helpdesk=={HELPDESK_VERSION}",
        f"Django=={metadata.version('Django')}",
        f"psycopg[binary]=={metadata.version('psycopg')}",
    ]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "bench-pins.txt"
    wanted = "\n".join(pins()) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"installing {', '.join(pins())} into {VENV.relative_to(ROOT)} ...")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins()], check=True)
    stamp.write_text(wanted)
    return python


SETTINGS = '''"""Throwaway project of benchmarks/helpdesk_compare.py (written by it; not part of the portal)."""

import os
from pathlib import Path
from urllib.parse import urlparse

_db = urlparse(os.environ["BENCH_HELPDESK_DATABASE_URL"])
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "benchdesk.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": _db.username or "",
        "PASSWORD": _db.password or "",
        "HOST": _db.hostname or "",
        "PORT": str(_db.port or ""),
        "CONN_MAX_AGE": 60,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "soporte@franquicias.example"
LANGUAGE_CODE = "es"
TIME_ZONE = "Europe/Madrid"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = str(BASE_DIR.parent / "media")
LOGIN_URL = "/admin/login/"
LOGGING = {"version": 1, "root": {"level": "WARNING"}}
HELPDESK_TEAMS_MODE_ENABLED = False  # no pinax-teams (the knowledge base's teams are not used here)
'''

URLS = """from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("helpdesk/", include("helpdesk.urls")),
    path("admin/", admin.site.urls),
]
"""


def write_project() -> None:
    package = PROJECT / "benchdesk"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "urls.py").write_text(URLS)


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- the two worker processes -----------------------------------------------------------------


class Worker:
    def __init__(self, side: str, python: Path, env: dict[str, str], log_path: Path) -> None:
        self.side = side
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(python), str(WORKER), side],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def ask(self, cmd: str, **kwargs) -> dict:
        self.process.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.side} worker exited ({self.process.wait()}); see {self.log.name}")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise RuntimeError(f"{self.side} worker, {cmd}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                self.process.wait(timeout=10)
        self.log.close()


def worker_envs(redis_url: str, workdir: Path, *, queue_emails: bool = False) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    ours = {
        **base,
        "DJANGO_SETTINGS_MODULE": "support_portal.settings",
        "PYTHONPATH": str(ROOT),
        "ENV_FILE": "",  # not the checkout's .env
        "DATABASE_URL": f"{POSTGRES}/{DATABASES['ours']}",
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        # the e-mails are sent in the request, as on django-helpdesk; --queue-emails: the scale-out
        # default with REDIS_URL, each e-mail queued for a Celery worker (none runs: the queue is emptied)
        "CELERY_TASK_ALWAYS_EAGER": "false" if queue_emails else "true",
        "EMAIL_URL": "memorymail://",  # locmem backend, like django-helpdesk's side
        "TICKET_CREATE_RATE": "0",  # the per-user creation limit would stop the benchmark at 10
        "SUBMISSION_TOKEN_TTL": "900",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(workdir / "media"),
        "WHOOSH_PATH": str(workdir / "whoosh"),
    }
    helpdesk = {
        **base,
        "DJANGO_SETTINGS_MODULE": "benchdesk.settings",
        "PYTHONPATH": str(PROJECT),
        "BENCH_HELPDESK_DATABASE_URL": f"{POSTGRES}/{DATABASES['helpdesk']}",
    }
    return {"ours": ours, "helpdesk": helpdesk}


# --- figures ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(runs: list[dict]) -> dict:
    samples = [s for run in runs for s in run["samples"]]
    wall, cpu, queries = [s[0] for s in samples], [s[1] for s in samples], [s[2] for s in samples]
    n = len(samples)
    created = sum(run["created"] for run in runs)
    out = {
        "creations": n,
        "p50_ms": round(percentile(wall, 0.5), 1),
        "p95_ms": round(percentile(wall, 0.95), 1),
        "cpu_p50_ms": round(percentile(cpu, 0.5), 1),
        "cpu_p95_ms": round(percentile(cpu, 0.95), 1),
        "queries_min": min(queries),
        "queries_max": max(queries),
        "emails_per_creation": round(sum(s[3] for s in samples) / n, 2),
        "email_recipients_per_creation": round(sum(s[4] for s in samples) / n, 2),
        "pushes_per_creation": round(sum(run.get("pushes", 0) for run in runs) / n, 2),
        "rounds_p50_ms": [round(percentile([s[0] for s in run["samples"]], 0.5), 1) for run in runs],
        "tickets_created": created,
    }
    if any("notifications" in run for run in runs):
        out["notifications_per_creation"] = round(sum(run["notifications"] for run in runs) / n, 2)
    if any("followups" in run for run in runs):
        out["followups_per_creation"] = round(sum(run["followups"] for run in runs) / n, 2)
    return out


def cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# --- the run ------------------------------------------------------------------------------------


def measure(workers: dict[str, Worker], args) -> dict:
    sides = ("ours", "helpdesk")  # A, B
    scenarios, sql = [], {}
    for scenario in args.scenarios:
        what = {side: workers[side].ask("scenario", name=scenario) for side in sides}
        for side in sides:  # warm-up: imports, template and content-type caches, connections
            for mode in MODES:
                workers[side].ask("run", mode=mode, n=args.warmup)
        runs: dict[tuple[str, str], list[dict]] = {(side, mode): [] for side in sides for mode in MODES}
        order = []
        for _round in range(args.rounds):
            for mode in MODES:
                for side in sides:
                    runs[(side, mode)].append(workers[side].ask("run", mode=mode, n=args.requests))
                    order.append(f"{side}:{mode}")
            log(f"{scenario}: round {_round + 1}/{args.rounds} done")
        for side in sides:
            for mode in MODES:
                sql[f"{scenario}.{side}.{mode}"] = workers[side].ask("capture", mode=mode)["queries"]
        entry = {"scenario": scenario, "configuration": what, "order": order}
        for mode in MODES:
            ours, theirs = summarize(runs[("ours", mode)]), summarize(runs[("helpdesk", mode)])
            entry[mode] = {
                "ours": ours,
                "helpdesk": theirs,
                "ratio_p50_ours_over_helpdesk": round(ours["p50_ms"] / theirs["p50_ms"], 2),
                "ratio_cpu_p50_ours_over_helpdesk": round(ours["cpu_p50_ms"] / theirs["cpu_p50_ms"], 2),
            }
        if args.phases:
            entry["phases"] = {
                side: {mode: workers[side].ask("phases", mode=mode, n=args.requests) for mode in MODES}
                for side in sides
            }
        scenarios.append(entry)
        if args.profile:
            path = BENCH_DIR / f"profile-ours-{scenario}.prof"
            text = workers["ours"].ask("profile", mode="http", n=args.requests, path=str(path))["text"]
            log(f"profile of {args.requests} HTTP creations ({scenario}) in {path}:\n{text}")
    return {"scenarios": scenarios, "sql": sql}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 tickets, 4 rounds × 10 creations, 5 warm-up")
    parser.add_argument("--tickets", type=int, default=None, help="existing tickets on each side (5,000)")
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--franchises", type=int, default=20, help="franchisees (ours) / submitters (helpdesk)")
    parser.add_argument("--categories", type=int, default=5, help="categories (ours) / queues (helpdesk)")
    parser.add_argument("--requests", type=int, default=None, help="creations per side, mode and round (20)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="ABAB rounds per scenario (10: short legs follow a busy machine's load)",
    )
    parser.add_argument("--warmup", type=int, default=None, help="creations per side and mode first (10)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="told,assigned")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--profile", action="store_true", help="cProfile the portal's HTTP creations")
    parser.add_argument(
        "--phases", action="store_true", help="after the rounds: each side's CPU per creation inside its main calls"
    )
    parser.add_argument(
        "--queue-emails",
        action="store_true",
        help="the portal queues its e-mails for a Celery worker (its scale-out default) instead of sending them",
    )
    parser.add_argument("--output", default=str(RESULT))
    parser.add_argument("--no-write", action="store_true", help="print the JSON only")
    args = parser.parse_args(argv)
    args.tickets = args.tickets or (2000 if args.quick else 5000)
    args.requests = args.requests or (10 if args.quick else 20)
    args.rounds = args.rounds or (4 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (5 if args.quick else 10)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    machine = machine_info()
    machine["packages"]["django-helpdesk"] = HELPDESK_VERSION
    python = ensure_venv()
    write_project()
    for name in DATABASES.values():
        ensure_database(f"{POSTGRES}/{name}")

    workdir = Path(tempfile.mkdtemp(prefix="bench-helpdesk-"))
    redis_process = None
    redis_url = args.redis_url
    if not redis_url:
        from benchmarks.notification_latency import start_redis

        redis_url, redis_process = start_redis(workdir)
    envs = worker_envs(redis_url, workdir, queue_emails=args.queue_emails)
    workers: dict[str, Worker] = {}
    try:
        workers["ours"] = Worker("ours", Path(sys.executable), envs["ours"], BENCH_DIR / "worker-ours.log")
        workers["helpdesk"] = Worker("helpdesk", python, envs["helpdesk"], BENCH_DIR / "worker-helpdesk.log")
        seed = {
            "tickets": args.tickets,
            "agents": args.agents,
            "franchises": args.franchises,
            "categories": args.categories,
        }
        data = {}
        for side, worker in workers.items():
            log(f"{side}: migrate and seed {args.tickets} tickets ...")
            data[side] = worker.ask("setup", **seed)
        busy0, load0 = cpu_ticks(), os.getloadavg()
        measured = measure(workers, args)
        busy1, load1 = cpu_ticks(), os.getloadavg()
    finally:
        for worker in workers.values():
            worker.close()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    http = {s["scenario"]: s["http"] for s in measured["scenarios"]}
    result = {
        "django_helpdesk": HELPDESK_VERSION,
        "django": metadata.version("Django"),
        "database": "postgresql",
        "databases": DATABASES,
        "channel_layer": "redis",
        "ours_emails": "queued for a Celery worker (not sent)"
        if args.queue_emails
        else "sent in the request (Celery eager)",
        **seed,
        "data": data,
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "order": "ABAB (ours, django-helpdesk) per mode, HTTP then service in each round",
        "scenarios": measured["scenarios"],
        "load": {
            "load_average_before": [round(x, 2) for x in load0],
            "load_average_after": [round(x, 2) for x in load1],
            "machine_busy_pct": round(100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1),
        },
        "goals": {
            f"http_create_p50_not_slower_than_helpdesk_{name}": figures["ratio_p50_ours_over_helpdesk"] <= 1.0
            for name, figures in http.items()
        }
        | {
            f"http_create_queries_constant_{name}": figures["ours"]["queries_min"] == figures["ours"]["queries_max"]
            for name, figures in http.items()
        },
        "sql": measured["sql"],
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_write:
        command = " ".join([".venv/bin/python", "benchmarks/helpdesk_compare.py", *(argv or sys.argv[1:])])
        record = {
            "benchmark": "helpdesk_compare",
            "command": command,
            "mode": "quick" if args.quick else "full",
            "started": started_at,
            "duration_s": round(time.monotonic() - began, 1),
            "status": "ok",
            "result": result,
            "machine": machine,
        }
        Path(args.output).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {Path(args.output).relative_to(ROOT) if Path(args.output).is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
