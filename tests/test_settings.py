"""Settings: embedded defaults without env vars, scale-out parts with them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_env

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import django,json;django.setup();from django.conf import settings as s;"
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'],"
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL,"
    "'search': s.HAYSTACK_CONNECTIONS['default']['ENGINE'], 'email': s.EMAIL_BACKEND,"
    "'secure_cookie': s.SESSION_COOKIE_SECURE, 'debug': s.DEBUG}))"
)
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "ELASTICSEARCH_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "DEBUG",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
)


def _settings_with(**extra: str) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update({"DJANGO_SETTINGS_MODULE": "support_portal.settings", **extra})
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults():
    s = _settings_with(DEBUG="true")
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["eager"] is True
    assert s["search"].endswith("WhooshEngine")
    assert s["email"] == "django.core.mail.backends.console.EmailBackend"


def test_scale_out_values():
    s = _settings_with(
        DEBUG="false",
        SECRET_KEY="x" * 60,
        DATABASE_URL="postgres://u:p@db:5432/portal",
        REDIS_URL="redis://redis:6379/0",
        ELASTICSEARCH_URL="http://es:9200",
        EMAIL_URL="smtp+tls://user:pw@mail:587",
    )
    assert s["db"] == "django.db.backends.postgresql"
    assert s["layer"] == "support_portal.channel_layer.PortalRedisChannelLayer"
    assert s["eager"] is False and s["broker"] == "redis://redis:6379/0"
    assert "Elasticsearch" in s["search"]
    assert s["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert s["secure_cookie"] is True and s["debug"] is False


def test_secret_key_required_without_debug():
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env["DEBUG"] = "false"
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode != 0 and "SECRET_KEY" in out.stderr


def test_check_deploy_has_no_warnings_with_production_values():
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(DEBUG="false", SECRET_KEY="k" * 20 + "-production-secret-" + "Z9" * 20, ALLOWED_HOSTS="portal.example")
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


@pytest.mark.django_db
def test_running_settings_use_the_services_when_set():
    """In CI the suite itself runs on PostgreSQL and Redis."""
    from django.conf import settings
    from django.db import connection

    require_env("DATABASE_URL")
    require_env("REDIS_URL")
    assert connection.vendor == "postgresql"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "support_portal.channel_layer.PortalRedisChannelLayer"
