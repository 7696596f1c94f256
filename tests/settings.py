"""Settings of the pytest process: the project's settings with services private to this process.

pytest-xdist runs the unit tests in several worker processes (PYTEST_XDIST_WORKER = gw0, gw1…).
pytest-django already gives each worker its own test database (`test_<name>_gw0`…); here each
worker also gets
- its own Redis database: REDIS_URL's number plus the worker's index (`…/0` → gw0 `/0`, gw1 `/1`),
  so one worker's `cache.clear()` (FLUSHDB) or channel-layer traffic never reaches another;
- no `.env` of the checkout (ENV_FILE= empty), here and in every process a test starts;
- its own Whoosh index folder and MEDIA_ROOT in a temporary folder (removed at exit), so no test
  writes under `var/` of the checkout.
The values are written back to os.environ, so the processes a test starts (Daphne, Celery,
`manage.py`) inherit the worker's services. A serial run (no xdist) is worker 0.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import urllib.parse

REDIS_DATABASES = 16  # redis-server's default `databases`


def worker_index() -> int:
    """0 for gw0 (and for a run without xdist), 1 for gw1…"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def redis_url_for_worker(url: str, index: int) -> str:
    """`url` with its database number moved up by `index` (redis://h:p/2, 1 → redis://h:p/3)."""
    parts = urllib.parse.urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    number = base + index
    if number >= REDIS_DATABASES:
        raise RuntimeError(f"REDIS_URL {url}: worker {index} would need Redis database {number}; use fewer workers")
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))


def _isolate() -> None:
    # xdist workers inherit the controller's environment, and the processes a test starts inherit
    # their worker's: isolate once per worker (a started process keeps what its test gave it).
    this_process = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if os.environ.get("PORTAL_TEST_ISOLATED") == this_process:
        return
    os.environ["PORTAL_TEST_ISOLATED"] = this_process
    os.environ["ENV_FILE"] = ""  # never the developer's .env (settings.py): tests set what they need
    index = worker_index()
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], index)
    scratch = tempfile.mkdtemp(prefix=f"portal-tests-gw{index}-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    os.environ["WHOOSH_PATH"] = os.path.join(scratch, "whoosh_index")
    os.environ["MEDIA_ROOT"] = os.path.join(scratch, "media")


_isolate()

from support_portal.settings import *  # noqa: E402, F403

# No persistent connections in the test process: a connection opened in a `sync_to_async` thread
# (consumer tests) would otherwise outlive the test and keep the test database "accessed by other
# users" when pytest-django drops it. Processes a test starts keep the project's value.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Users are created in most fixtures: the production hasher (PBKDF2, 1,000,000 iterations) costs
# 0.3–0.5 s per user on a quiet core, several seconds on a loaded one. Tests of login throttling
# and lockouts are unaffected by the hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise scans every static file through the finders when its middleware is built, i.e. for
# every test Client (a fifth of the CPU of the in-process HTTP tests, py-spy): in autorefresh mode
# it looks a file up when it is requested instead, as it does under `make run` (DEBUG).
WHITENOISE_AUTOREFRESH = True
