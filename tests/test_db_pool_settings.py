"""Database settings: a bounded psycopg pool on PostgreSQL, none on SQLite (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django,json;django.setup();from django.conf import settings as s;d=s.DATABASES['default'];"
    "print(json.dumps({'options': {k: v for k, v in d.get('OPTIONS', {}).items() if k != 'init_command'},"
    "'max_age': d['CONN_MAX_AGE'], 'no_cursors': d.get('DISABLE_SERVER_SIDE_CURSORS', False)}))"
)
DB_VARS = ("DATABASE_URL", "CONN_MAX_AGE", "DB_POOL_MAX", "DB_POOL_MIN", "DB_POOL_TIMEOUT", "PGBOUNCER")


def _database(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DB_VARS}
    env.update({"DJANGO_SETTINGS_MODULE": "support_portal.settings", "DEBUG": "true", **extra})
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_postgres_gets_a_bounded_pool_by_default():
    db = _database(DATABASE_URL="postgres://u:p@db:5432/portal")
    assert db["options"]["pool"] == {"min_size": 1, "max_size": 8, "timeout": 20.0}
    assert db["max_age"] == 0  # Django refuses persistent connections with a pool
    assert db["options"]["application_name"] == "support_portal"
    assert db["no_cursors"] is False


def test_pool_size_comes_from_the_environment():
    db = _database(DATABASE_URL="postgres://db/portal", DB_POOL_MAX="4", DB_POOL_MIN="0", DB_POOL_TIMEOUT="5")
    assert db["options"]["pool"] == {"min_size": 0, "max_size": 4, "timeout": 5.0}


def test_behind_pgbouncer_without_the_app_pool():
    db = _database(DATABASE_URL="postgres://db/portal", DB_POOL_MAX="0", CONN_MAX_AGE="0", PGBOUNCER="true")
    assert "pool" not in db["options"]
    assert db["max_age"] == 0 and db["no_cursors"] is True


def test_sqlite_keeps_working_without_a_pool():
    db = _database()
    assert "pool" not in db["options"]
    assert db["max_age"] == 60
