"""Webhooks on the real scale-out path: Daphne, Redis broker, a real Celery worker.

A ticket created through the JSON API is delivered by the worker to a local receiver that
answers 500 twice: the worker retries the same signed delivery after 1 s, then 2 s
(exponential back-off with WEBHOOK_RETRY_BASE_SECONDS=1), and the log says succeeded at try 3.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import urllib.request

import pytest

from tests.browser.livestack import LiveStack
from tests.test_reliability_chat import require_redis_server
from tests.webhook_receiver import webhook_receiver

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SETUP = """
from accounts.models import User
from api import services
from api.tokens import create_token
endpoint = services.register_endpoint(actor=User.objects.get(username="boss"), url=params["url"],
                                      events=["ticket.created"])
result = {"secret": endpoint.secret, "key": create_token(user=User.objects.get(username="fran_centro"), name="t")[1]}
"""
LOG = """
from api.models import WebhookDelivery
d = WebhookDelivery.objects.get()
result = {"status": d.status, "attempts": d.attempts, "codes": [a.response_code for a in d.attempt_log.all()]}
"""


@pytest.fixture
def stack(tmp_path):
    require_redis_server()
    env = {"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "WEBHOOK_RETRY_BASE_SECONDS": "1"}
    stack = LiveStack(tmp_path / "stack", redis=True, env_extra=env).start()
    try:
        stack.seed_people()
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def test_worker_retries_with_exponential_backoff(stack):
    with webhook_receiver() as receiver:
        receiver.statuses = [500, 500]
        setup = stack.run_django(SETUP, url=receiver.url)
        stack.start_worker()
        request = urllib.request.Request(
            stack.url + "/api/v1/tickets/",
            data=json.dumps({"subject": "Báscula", "description": "No pesa"}).encode(),
            headers={"Authorization": f"Token {setup['key']}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
        first, second, third = receiver.wait_for(3, timeout=90)
        times = [r.received_at for r in (first, second, third)]
    assert first.body == second.body == third.body  # one delivery, tried three times
    for attempt in (first, second, third):
        expected = "sha256=" + hmac.new(setup["secret"].encode(), attempt.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(attempt.headers["X-Portal-Signature"], expected)
    assert [r.headers["X-Portal-Attempt"] for r in (first, second, third)] == ["1", "2", "3"]
    assert times[1] - times[0] >= 0.9  # 1 s after the first failure
    assert times[2] - times[1] >= 1.9  # 2 s after the second: it doubles
    assert json.loads(first.body)["event"] == "ticket.created"
    log = stack.run_django(LOG)
    assert log == {"status": "succeeded", "attempts": 3, "codes": [500, 500, 200]}
