"""Webhooks against a real local HTTP receiver: signature, events from every entry point, retries."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from api import services as webhook_services
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from api.webhooks import backoff_seconds, check_url
from chat import services as chat_services
from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tests.webhook_receiver import webhook_receiver
from tickets import services as ticket_services
from tickets.models import Category, Ticket

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["ticket.created", "ticket.updated", "comment.created", "chat.closed"]


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.TICKETS_AUTO_ASSIGN = "least_loaded"


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def endpoint(receiver, supervisor) -> WebhookEndpoint:
    return webhook_services.register_endpoint(actor=supervisor, url=receiver.url, events=ALL_EVENTS)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (webhooks are sent after commit) of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _verified(endpoint: WebhookEndpoint, request) -> dict:
    """What a receiver must do: recompute the HMAC of the raw body and compare in constant time."""
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Portal-Signature"], expected)
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.body)


def test_ticket_created_from_the_page_is_signed_and_sent_once(receiver, endpoint, franchisee_client, agent, commit):
    category = Category.objects.create(name="TPV", slug="tpv")
    category.agents.add(agent)  # auto-assigned on creation, in the same transaction
    with commit():
        response = franchisee_client.post(
            "/tickets/new/", {"subject": "Caja", "description": "No abre", "category": category.pk}
        )
    assert response.status_code == 302
    payload = _verified(endpoint, receiver.wait_for(1)[0])
    ticket = Ticket.objects.get()
    assert payload["event"] == "ticket.created"
    assert payload["data"]["ticket"]["id"] == ticket.pk
    assert payload["data"]["ticket"]["assignee"]["id"] == agent.pk  # the final state after auto-assignment
    assert receiver.requests[0].headers["X-Portal-Event"] == "ticket.created"
    assert receiver.requests[0].headers["X-Portal-Delivery"] == payload["id"]
    # auto-assignment in the same transaction is part of ticket.created, not a second event
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)


def test_api_changes_and_comments_fire_updated_and_comment_events(receiver, endpoint, franchisee, agent, commit):
    with commit():
        ticket = make_ticket(franchisee)
    receiver.wait_for(1)
    api = token_client(agent)
    with commit():
        api.patch(f"/api/v1/tickets/{ticket.pk}/", {"priority": "urgent", "status": "pending"}, format="json")
    with commit():
        api.post(f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "Nota", "internal": True}, format="json")
    requests = receiver.wait_for(3)
    updated, commented = (_verified(endpoint, r) for r in requests[1:3])
    assert updated["event"] == "ticket.updated"
    changes = [(c["field"], c["new"]) for c in updated["data"]["changes"]]
    assert changes == [("priority", "urgent"), ("status", "pending")]
    assert updated["data"]["ticket"]["status"] == "pending"
    assert commented["event"] == "comment.created"
    assert commented["data"]["comment"]["internal"] is True and commented["data"]["ticket_id"] == ticket.pk


def test_service_calls_fire_too_and_a_rollback_fires_nothing(receiver, endpoint, franchisee, agent, commit):
    with commit():
        ticket = make_ticket(franchisee)
        ticket_services.add_comment(ticket=ticket, actor=franchisee, body="Más datos")
    assert [json.loads(r.body)["event"] for r in receiver.wait_for(2)] == ["ticket.created", "comment.created"]
    with commit(), pytest.raises(ticket_services.TicketError):
        ticket_services.change_status(ticket=ticket, actor=agent, status="new")  # refused: nothing sent
    assert WebhookDelivery.objects.count() == 2


def test_chat_closed(receiver, endpoint, franchisee, agent, commit):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="TPV")
    with commit():
        chat_services.close_conversation(conversation_id=conversation.pk, actor=franchisee)
    payload = _verified(endpoint, receiver.wait_for(1)[0])
    assert payload["event"] == "chat.closed"
    assert payload["data"]["chat"]["id"] == conversation.pk and payload["data"]["chat"]["status"] == "closed"


def test_retries_after_a_500_with_the_same_delivery(receiver, endpoint, franchisee, commit):
    receiver.statuses = [500]
    with commit():
        make_ticket(franchisee)
    first, second = receiver.wait_for(2)
    assert first.body == second.body  # the same signed delivery, tried again
    assert first.headers["X-Portal-Delivery"] == second.headers["X-Portal-Delivery"]
    assert (first.headers["X-Portal-Attempt"], second.headers["X-Portal-Attempt"]) == ("1", "2")
    _verified(endpoint, second)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "response_code", "error"))
    assert log == [(1, 500, "HTTP 500"), (2, 200, "")]


def test_gives_up_after_max_attempts(receiver, endpoint, franchisee, commit):
    receiver.statuses = [500, 503, 502, 200]
    with commit():
        make_ticket(franchisee)
    receiver.wait_for(3)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 502)
    assert len(receiver.requests) == 3


def test_backoff_is_exponential(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    assert [backoff_seconds(n) for n in range(1, 6)] == [30, 60, 120, 240, 480]


def test_a_worker_schedules_the_retry_with_the_backoff(receiver, endpoint, franchisee, monkeypatch, settings):
    """Outside eager mode the task asks Celery to run again after backoff_seconds(attempts)."""
    from celery.exceptions import Retry

    from api.tasks import deliver_webhook

    receiver.statuses = [500]
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="webhook.test", payload={"x": 1})
    asked = {}

    def fake_retry(*, countdown):
        asked["countdown"] = countdown
        return Retry("retry", when=countdown)

    monkeypatch.setattr(deliver_webhook, "retry", fake_retry)
    with pytest.raises(Retry):
        deliver_webhook.run(delivery.pk)
    assert asked["countdown"] == settings.WEBHOOK_RETRY_BASE_SECONDS
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and delivery.next_attempt_at is not None
    assert len(receiver.requests) == 1


def test_supervisor_pages_register_log_and_test(receiver, supervisor_client, commit):
    with commit():
        response = supervisor_client.post(
            "/api/webhooks/", {"url": receiver.url, "events": ["ticket.created", "chat.closed"]}
        )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["ticket.created", "chat.closed"] and endpoint.secret.startswith("whsec_")
    with commit():
        supervisor_client.post(f"/api/webhooks/{endpoint.pk}/test/")
    payload = _verified(endpoint, receiver.wait_for(1)[0])
    assert payload["event"] == "webhook.test"
    page = supervisor_client.get(f"/api/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in page and endpoint.secret in page and "200" in page
    assert receiver.url in supervisor_client.get("/api/webhooks/").content.decode()


def test_only_supervisors_see_the_webhook_pages(agent_client, franchisee_client, endpoint):
    for client in (agent_client, franchisee_client):
        assert client.get("/api/webhooks/").status_code == 404
        assert client.get(f"/api/webhooks/{endpoint.pk}/").status_code == 404
        assert client.post(f"/api/webhooks/{endpoint.pk}/test/").status_code == 404
        assert client.post(f"/api/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_unsubscribed_and_inactive_endpoints_get_nothing(receiver, supervisor, franchisee, commit):
    only_chats = webhook_services.register_endpoint(actor=supervisor, url=receiver.url, events=["chat.closed"])
    off = webhook_services.register_endpoint(actor=supervisor, url=receiver.url, events=ALL_EVENTS)
    webhook_services.set_active(actor=supervisor, endpoint=off, active=False)
    with commit():
        make_ticket(franchisee)
    assert not WebhookDelivery.objects.filter(endpoint__in=[only_chats, off]).exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2/hook",  # loopback outside the allowed /32
        "http://10.0.0.5/hook",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hook",
        "http://0.0.0.0:9/hook",
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "http://user:pass@127.0.0.1/hook",
    ],
)
def test_ssrf_guard_refuses_internal_targets(url):
    with pytest.raises(ValidationError):
        check_url(url)


def test_ssrf_guard_allows_the_configured_network(settings, receiver):
    check_url(receiver.url)
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    for url in (receiver.url, receiver.url.replace("127.0.0.1", "localhost")):
        with pytest.raises(ValidationError):
            check_url(url)


def test_page_refuses_an_internal_url(supervisor_client):
    response = supervisor_client.post("/api/webhooks/", {"url": "http://10.1.2.3/", "events": ["ticket.created"]})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_redirects_are_not_followed(receiver, endpoint, franchisee, commit):
    receiver.statuses = [302, 302, 302]
    with commit():
        make_ticket(franchisee)
    receiver.wait_for(3)
    assert WebhookDelivery.objects.get().status == "failed"


def test_client_is_anonymous_page_safe():
    assert Client().get("/api/webhooks/").status_code == 302
