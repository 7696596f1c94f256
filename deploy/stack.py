"""The scale-out stack on one machine, without Docker: nginx + N Daphne + Celery worker + beat.

`make stack` runs `python deploy/stack.py`, which prepares PostgreSQL (creates the database if
missing, migrates, collects static files, seeds the demo, rebuilds the search index), renders
deploy/nginx.conf into the run directory and hands over to honcho with deploy/Procfile.stack.
The end-to-end test (tests/test_stack_e2e.py) and the chat scale benchmark reuse the same
functions to start the same processes on free ports.

Every setting comes from the environment, with local defaults (see `stack_environment`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
PROCFILE = ROOT / "deploy" / "Procfile.stack"

DEFAULTS = {
    "DEBUG": "false",
    "SECRET_KEY": "local-stack-only-not-a-production-secret-3f9c1e7a5b2d4c6e8f0a1b3c5d7e9f",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal_stack",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    # Plain http on loopback: no TLS, so no HTTPS redirect and no Secure-only cookies.
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "PROXY_COUNT": "1",
    "NGINX_PORT": "8080",
    "DAPHNE_PORTS": "8001,8002",
    # Every process reaches PostgreSQL through PgBouncer (at most PGBOUNCER_POOL server connections).
    "PGBOUNCER_PORT": "6432",
    "PGBOUNCER_POOL": "10",
    "STACK_DIR": str(ROOT / "var" / "stack"),
}


@dataclass
class StackConfig:
    """Ports, run directory and the environment every process of the stack gets."""

    nginx_port: int
    daphne_ports: list[int]
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.nginx_port}"


def stack_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: os.environ, then defaults for what is unset, then overrides."""
    env = dict(os.environ)
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    env.update(overrides or {})
    env.setdefault("WHOOSH_PATH", str(Path(env["STACK_DIR"]) / "whoosh_index"))
    nginx_origin = f"http://127.0.0.1:{env['NGINX_PORT']},http://localhost:{env['NGINX_PORT']}"
    env.setdefault("CSRF_TRUSTED_ORIGINS", nginx_origin)
    env.setdefault("SITE_URL", f"http://127.0.0.1:{env['NGINX_PORT']}")
    env["DJANGO_SETTINGS_MODULE"] = (overrides or {}).get("DJANGO_SETTINGS_MODULE", "support_portal.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def config_from_env(env: Mapping[str, str]) -> StackConfig:
    ports = [int(port) for port in env["DAPHNE_PORTS"].split(",") if port.strip()]
    return StackConfig(
        nginx_port=int(env["NGINX_PORT"]), daphne_ports=ports, run_dir=Path(env["STACK_DIR"]), env=dict(env)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- PostgreSQL ----------------------------------------------------------------------------


def _maintenance_url(database_url: str) -> tuple[str, str]:
    """(URL of the `postgres` maintenance database, name of the target database)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, "")), name


def ensure_database(database_url: str, *, fresh: bool = False) -> None:
    """Create the PostgreSQL database if missing (drop it first when `fresh`)."""
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance_url(database_url)
    with psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance_url(database_url)
    with psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- Preparation ---------------------------------------------------------------------------


def manage(env: Mapping[str, str], *args: str) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=dict(env), check=True)


def prepare(config: StackConfig, *, password: str = "demo1234", fresh_db: bool = False) -> None:  # noqa: S107
    """Database, static files, demo data, search index and the rendered nginx.conf."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    ensure_database(config.env["DATABASE_URL"], fresh=fresh_db)
    manage(config.env, "migrate", "--noinput", "--verbosity", "0")
    manage(config.env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(config.env, "seed_demo", "--password", password)
    manage(config.env, "rebuild_index", "--noinput", "--verbosity", "0")
    write_nginx_conf(config)


def render_nginx_conf(config: StackConfig, *, access_log: bool = True) -> str:
    upstreams = "\n".join(
        f"        server {config.host}:{port} max_fails=1 fail_timeout=10s;" for port in config.daphne_ports
    )
    return Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        run_dir=str(config.run_dir),
        access_log=f"{config.run_dir}/nginx-access.log" if access_log else "off",
        upstream_servers=upstreams,
        listen_host=config.host,
        listen_port=str(config.nginx_port),
    )


def write_nginx_conf(config: StackConfig, *, access_log: bool = True) -> Path:
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (config.run_dir / "nginx-tmp" / name).mkdir(parents=True, exist_ok=True)
    path = config.run_dir / "nginx.conf"
    path.write_text(render_nginx_conf(config, access_log=access_log))
    return path


# --- PgBouncer ---------------------------------------------------------------------------


PGBOUNCER_TEMPLATE = """\
; Rendered by deploy/stack.py: transaction pooling in front of PostgreSQL.
[databases]
* = host=$server_host port=$server_port user=$server_user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $listen_port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = $pool_size
reserve_pool_size = 0
max_client_conn = 1000
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
"""


def write_pgbouncer_ini(
    run_dir: Path, *, listen_port: int, server_host: str, server_port: int, server_user: str, pool_size: int
) -> Path:
    """pgbouncer.ini for a local PostgreSQL with trust auth: at most `pool_size` server connections
    per database and user, however many clients (Daphne threads, Celery processes) connect.
    It logs to its standard error (honcho's output in `make stack`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "pgbouncer.ini"
    path.write_text(
        Template(PGBOUNCER_TEMPLATE).substitute(
            server_host=server_host,
            server_port=server_port,
            server_user=server_user,
            listen_port=listen_port,
            pool_size=pool_size,
        )
    )
    path.chmod(0o644)  # as root PgBouncer runs as `nobody` (it refuses root), who must read it
    return path


def pgbouncer_command(ini: Path) -> list[str]:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if not found:
        raise FileNotFoundError("pgbouncer is not installed (apt-get install -y pgbouncer)")
    command = [found, str(ini)]
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(process.args)} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f}s")


def through_pgbouncer(database_url: str, port: int) -> str:
    """The same database URL, through the PgBouncer on 127.0.0.1:`port`."""
    parts = urlsplit(database_url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{port}", parts.path, parts.query, ""))


# --- Processes -----------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise FileNotFoundError("nginx is not installed (apt-get install -y nginx)")
    return found


def nginx_command(config: StackConfig) -> list[str]:
    return [
        nginx_binary(),
        "-p",
        str(config.run_dir),
        "-e",
        str(config.run_dir / "nginx-error.log"),
        "-c",
        str(config.run_dir / "nginx.conf"),
        "-g",
        "daemon off;",
    ]


def daphne_command(config: StackConfig, port: int) -> list[str]:
    return [
        str(VENV_BIN / "daphne"),
        "--proxy-headers",
        "-b",
        config.host,
        "-p",
        str(port),
        "support_portal.asgi:application",
    ]


def worker_command(concurrency: int = 2) -> list[str]:
    return [
        str(VENV_BIN / "celery"),
        "-A",
        "support_portal",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
    ]


def beat_command(config: StackConfig) -> list[str]:
    return [
        str(VENV_BIN / "celery"),
        "-A",
        "support_portal",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(config.run_dir / "celerybeat-schedule"),
    ]


def wait_for_http(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers with any HTTP status (the process is up and serving)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(process.args)} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - our own http:// URL
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last_error = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {last_error}")


# --- `make stack` --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare-only", action="store_true", help="prepare, render nginx.conf, do not start")
    parser.add_argument("--password", default="demo1234", help="password of the demo users")
    parser.add_argument("--fresh-db", action="store_true", help="drop and recreate the database first")
    args = parser.parse_args(argv)

    env = stack_environment()
    config = config_from_env(env)
    nginx_binary()
    prepare(config, password=args.password, fresh_db=args.fresh_db)
    # The Procfile names one line per Daphne process: web1 uses DAPHNE_PORT_1, and so on.
    for number, port in enumerate(config.daphne_ports, start=1):
        env[f"DAPHNE_PORT_{number}"] = str(port)
    parts = urlsplit(env["DATABASE_URL"])
    ini = write_pgbouncer_ini(
        config.run_dir,
        listen_port=int(env["PGBOUNCER_PORT"]),
        server_host=parts.hostname or "127.0.0.1",
        server_port=parts.port or 5432,
        server_user=parts.username or "postgres",
        pool_size=int(env["PGBOUNCER_POOL"]),
    )
    env["PGBOUNCER_CMD"] = " ".join(pgbouncer_command(ini))
    env["DATABASE_URL"] = through_pgbouncer(env["DATABASE_URL"], int(env["PGBOUNCER_PORT"]))
    env["PGBOUNCER"] = "true"
    # PgBouncer is the bound here: threads keep their client connections to it, and it queues
    # per transaction, not per request (docs/PERFORMANCE.md "Database connections").
    env.setdefault("DB_POOL_MAX", "0")
    env["NGINX_BIN"] = nginx_binary()
    env["VENV_BIN"] = str(VENV_BIN)
    print(f"Stack ready: {config.base_url}/ (demo password: {args.password}); Ctrl-C stops every process.")
    if args.prepare_only:
        return 0
    honcho = str(VENV_BIN / "honcho")
    os.chdir(ROOT)
    argv = [honcho, "-f", str(PROCFILE), "-d", str(ROOT), "start"]
    os.execve(honcho, argv, env)  # noqa: S606 - our own honcho replaces this process
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
