"""The API answers in the caller's language: stored texts, names and messages, never the Spanish column."""

from __future__ import annotations

import pytest

from api.views import ReaderLanguageMixin
from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def merged(franchisee, agent):
    """A ticket merged into another: the target has the portal's own comment (a stored text)."""
    category = Category.objects.create(name="Datáfono", name_en="Card terminal", slug="datafono")
    source = make_ticket(franchisee, subject="No imprime el ticket", category=category)
    target = make_ticket(franchisee, subject="Datáfono sin papel", category=category)
    ticket_services.merge(source=source, target=target, actor=agent)
    return source, target


def merge_comment(client, target) -> str:
    comments = client.get(f"/api/v1/tickets/{target.pk}/comments/").json()["results"]
    return next(c["body"] for c in comments if "No imprime el ticket" in c["body"])


@pytest.mark.parametrize(
    ("header", "preferred", "expected"),
    [
        ("en", "es", "en"),  # Accept-Language wins, as on the pages
        ("es", "en", "es"),
        (None, "en", "en"),  # a token client that says nothing: the user's preferred language
        (None, "es", "es"),
    ],
)
def test_stored_texts_and_names_in_the_callers_language(merged, franchisee, header, preferred, expected):
    source, target = merged
    franchisee.preferred_language = preferred
    franchisee.save()
    client = token_client(franchisee)
    if header:
        client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_ACCEPT_LANGUAGE=header)
    body = merge_comment(client, target)
    ticket = client.get(f"/api/v1/tickets/{target.pk}/")
    assert ticket["Content-Language"] == expected
    if expected == "en":
        assert body.startswith(f"Merged from {source.number}: No imprime el ticket")
        assert ticket.json()["category"]["name"] == "Card terminal"
    else:
        assert body.startswith(f"Fusionado desde {source.number}: No imprime el ticket")
        assert ticket.json()["category"]["name"] == "Datáfono"
    listed = client.get("/api/v1/tickets/").json()["results"]
    assert {t["category"]["name"] for t in listed} == {"Card terminal" if expected == "en" else "Datáfono"}


def test_error_messages_follow_the_preferred_language(franchisee, agent):
    agent.preferred_language = "en"
    agent.save()
    ticket = make_ticket(franchisee)
    client = token_client(agent)
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": franchisee.pk}, format="json")
    assert response.status_code == 400
    assert "Solo" not in str(response.json())  # the service's refusal, in English


def test_webhook_payloads_are_in_the_portals_language(merged, supervisor):
    from django.utils import translation

    from api.events import _comment_payload, _ticket_payload
    from api.models import WebhookDelivery, WebhookEndpoint
    from api.webhooks import dispatch
    from tickets.models import Comment

    source, target = merged
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/x", events=["comment.created"])
    comment = Comment.objects.filter(ticket=target, body__startswith="Fusionado").get()
    with translation.override("en"):  # an English agent's request caused it
        dispatch("comment.created", lambda: _comment_payload(comment.pk), endpoints=[endpoint])
        dispatch("ticket.updated", lambda: _ticket_payload(target.pk), endpoints=[endpoint])
    comment_data, ticket_data = (d.payload["data"] for d in WebhookDelivery.objects.order_by("pk"))
    assert comment_data["comment"]["body"].startswith(f"Fusionado desde {source.number}")
    assert ticket_data["ticket"]["category"]["name"] == "Datáfono"


def test_every_api_view_answers_in_the_readers_language():
    import inspect

    from rest_framework.views import APIView

    from api import views

    api_views = [
        cls
        for _name, cls in inspect.getmembers(views, inspect.isclass)
        if issubclass(cls, APIView) and cls.__module__ == views.__name__
    ]
    assert len(api_views) >= 8
    assert [cls.__name__ for cls in api_views if not issubclass(cls, ReaderLanguageMixin)] == []
