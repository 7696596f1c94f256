"""Creation limits per user and one-time submission tokens (double submits create one object)."""

from __future__ import annotations

import re
import threading

import pytest
from django.test import Client

from chat.models import Conversation
from tests.conftest import require_env
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import Comment, Ticket

pytestmark = pytest.mark.django_db


def _token(client: Client, url: str) -> str:
    match = re.search(r'name="submission_token" value="([^"]+)"', client.get(url).content.decode())
    assert match, f"no submission token on {url}"
    return match.group(1)


TICKET = {"subject": "El datáfono no imprime", "description": "Desde esta mañana."}


def test_a_replayed_ticket_submission_creates_one_ticket_and_redirects_to_it(franchisee_client):
    token = _token(franchisee_client, "/tickets/new/")
    first = franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": token})
    second = franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": token})
    assert Ticket.objects.count() == 1
    ticket = Ticket.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == ticket.get_absolute_url()


def test_two_forms_are_two_tickets_and_a_post_without_token_still_works(franchisee_client):
    for token in (_token(franchisee_client, "/tickets/new/"), _token(franchisee_client, "/tickets/new/"), None):
        data = TICKET if token is None else {**TICKET, "submission_token": token}
        assert franchisee_client.post("/tickets/new/", data).status_code == 302
    assert Ticket.objects.count() == 3


def test_a_refused_submission_frees_its_token(franchisee_client):
    token = _token(franchisee_client, "/tickets/new/")
    refused = franchisee_client.post("/tickets/new/", {"subject": "", "description": "x", "submission_token": token})
    assert refused.status_code == 400
    assert f'value="{token}"' in refused.content.decode()  # the form comes back with the same token
    assert franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": token}).status_code == 302
    assert Ticket.objects.count() == 1


def test_replayed_comment_and_chat_start(franchisee, franchisee_client):
    ticket = make_ticket(franchisee)
    token = _token(franchisee_client, ticket.get_absolute_url())
    for _ in range(2):
        data = {"body": "Hola", "submission_token": token}
        response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", data)
        assert response.status_code == 302
    assert Comment.objects.filter(ticket=ticket).count() == 1
    token = _token(franchisee_client, "/chat/")
    locations = {
        franchisee_client.post("/chat/", {"topic": "El TPV", "submission_token": token})["Location"] for _ in range(2)
    }
    assert Conversation.objects.count() == 1 and locations == {Conversation.objects.get().get_absolute_url()}


def test_a_token_is_per_user(franchisee_client, other_franchisee_client):
    token = _token(franchisee_client, "/tickets/new/")
    franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": token})
    response = other_franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": token})
    assert response.status_code == 302
    assert Ticket.objects.count() == 2  # not a redirect to another franchise's ticket


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_creates_one_ticket(franchisee):
    """Two requests with the same token at the same time (a double click), on real PostgreSQL."""
    from django.db import connection, connections

    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")

    client = Client()
    client.force_login(franchisee)
    token = _token(client, "/tickets/new/")
    barrier = threading.Barrier(2)
    results = []

    def post():
        try:
            c = Client()
            c.force_login(franchisee)
            barrier.wait(timeout=10)
            results.append(c.post("/tickets/new/", {**TICKET, "submission_token": token}))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Ticket.objects.count() == 1
    assert [r.status_code for r in results] == [302, 302]
    assert {r["Location"] for r in results} == {Ticket.objects.get().get_absolute_url()}


# --- creation limits ----------------------------------------------------------------------------


def test_ticket_creation_is_rate_limited_per_user_and_keeps_the_form(settings, franchisee_client, other_franchisee):
    settings.TICKET_CREATE_RATE = "3/600"
    for i in range(3):
        assert franchisee_client.post("/tickets/new/", {**TICKET, "subject": f"Ticket {i}"}).status_code == 302
    refused = franchisee_client.post("/tickets/new/", {**TICKET, "subject": "El cuarto"})
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 600
    html = refused.content.decode()
    assert "demasiados tickets" in html
    assert 'value="El cuarto"' in html and "Desde esta mañana." in html  # nothing typed is lost
    assert Ticket.objects.count() == 3
    # another user is not limited by this one
    services.create_ticket(actor=other_franchisee, subject="Otro", description="x")


def test_the_limit_is_in_the_service_for_every_entry_point(settings, franchisee):
    from support_portal.throttle import RateLimited

    settings.TICKET_CREATE_RATE = "2/600"
    settings.COMMENT_CREATE_RATE = "2/600"
    ticket = services.create_ticket(actor=franchisee, subject="a", description="b")
    services.create_ticket(actor=franchisee, subject="a", description="b")
    with pytest.raises(RateLimited):
        services.create_ticket(actor=franchisee, subject="a", description="b")
    services.add_comment(ticket=ticket, actor=franchisee, body="1")
    services.add_comment(ticket=ticket, actor=franchisee, body="2")
    with pytest.raises(RateLimited):
        services.add_comment(ticket=ticket, actor=franchisee, body="3")
    assert Ticket.objects.count() == 2 and ticket.comments.count() == 2


def test_comment_limit_keeps_the_reply(settings, franchisee, franchisee_client):
    settings.COMMENT_CREATE_RATE = "1/600"
    ticket = make_ticket(franchisee)
    assert franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "uno"}).status_code == 302
    refused = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "mi respuesta larga"})
    assert refused.status_code == 429
    assert "mi respuesta larga" in refused.content.decode()


def test_sliding_window_holds_across_a_window_edge():
    from support_portal.throttle import Rate, is_over, record

    rate = Rate(10, 10)
    passed = 0
    for t in [9.0 + i * 0.05 for i in range(10)] + [10.0 + i * 0.05 for i in range(10)]:
        if not is_over("edge", rate, now=t):
            record("edge", rate, now=t)
            passed += 1
    assert passed <= 11  # a fixed window would let 20 through in ~1 s


def test_a_cache_outage_fails_open(settings, franchisee_client):
    """Redis down (scale-out): limits and tokens are skipped, the form still works — no 500."""
    settings.TICKET_CREATE_RATE = "1/600"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    for _ in range(2):
        response = franchisee_client.post("/tickets/new/", {**TICKET, "submission_token": "t" * 20})
        assert response.status_code == 302
