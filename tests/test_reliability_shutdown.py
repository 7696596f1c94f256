"""Daphne ends on SIGTERM although requests are in flight (support_portal/asgi.py's watchdog).

Before: a request whose worker thread reached the innermost sync middleware's async_to_sync hop
as the shutdown stopped the event loop waited for that loop forever, and so did the interpreter's
exit joining the thread: the process lived until SIGKILL (10 s of every browser test's teardown
that stopped a stack mid-request; a deploy's restart until systemd's kill).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.servers import daphne

pytestmark = [pytest.mark.slow]

EXIT_WITHIN = 10.0  # seconds; a clean exit takes well under one, a stuck one never ends


def test_daphne_exits_on_sigterm_with_requests_in_flight(tmp_path):
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "LOG_LEVEL": "WARNING"}
    with daphne(env, log_path=tmp_path / "daphne.log") as (port, process):
        answered = threading.Event()

        def keep_asking() -> None:  # one request after another until the server is gone
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=30).read()
                    answered.set()
                except OSError:
                    return  # refused or cut by the shutdown

        clients = [threading.Thread(target=keep_asking) for _ in range(8)]
        for client in clients:
            client.start()
        assert answered.wait(60), "no request answered"  # requests are in flight from now on
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"Daphne still running {EXIT_WITHIN} s after SIGTERM:\n{(tmp_path / 'daphne.log').read_text()[-3000:]}"
            )
        finally:
            for client in clients:
                client.join(30)
        assert process.returncode == 0, process.returncode
        assert time.monotonic() - started < EXIT_WITHIN
