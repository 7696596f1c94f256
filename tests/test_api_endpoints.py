"""The JSON API: scoping like the pages, internal notes, agent-only changes, KB and chats."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chat import services as chat_services
from knowledge_base.models import Article
from knowledge_base.testing import temporary_search_index
from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Comment, Event, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def fran_api(franchisee):
    return token_client(franchisee)


@pytest.fixture
def other_api(other_franchisee):
    return token_client(other_franchisee)


@pytest.fixture
def agent_api(agent):
    return token_client(agent)


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee, subject="La TPV no arranca")


# --- authentication -----------------------------------------------------------------


def test_anonymous_and_bad_tokens_get_401_json():
    for client in (APIClient(), _bad_token_client()):
        response = client.get("/api/v1/tickets/")
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response["WWW-Authenticate"] == "Token"


def _bad_token_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    return client


def test_the_session_works_and_its_writes_need_csrf(franchisee):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(franchisee)
    assert client.get("/api/v1/tickets/").status_code == 200
    response = client.post("/api/v1/tickets/", {"subject": "x", "description": "y"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_schema_is_openapi_json_when_asked(fran_api):
    response = fran_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/tickets/", "/api/v1/tickets/{id}/", "/api/v1/tickets/{id}/comments/", "/api/v1/kb/articles/",
            "/api/v1/kb/articles/{slug}/", "/api/v1/kb/search/", "/api/v1/chats/", "/api/v1/tickets/{id}/followers/",
            "/api/v1/tickets/{id}/followers/{user_id}/", "/api/v1/tickets/{id}/links/",
            "/api/v1/tickets/{id}/links/{link_id}/"} <= set(schema["paths"])  # fmt: skip
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_page_is_served_locally_under_the_csp(agent_client):
    page = agent_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<style>" not in html and "<script>" not in html  # nothing inline: the CSP would block it
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    script = agent_client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"/api/schema/" in script.content
    menu = agent_client.get("/agent/").content.decode()
    assert 'href="/api/docs/"' in menu


# --- tickets ------------------------------------------------------------------------


def test_list_is_paginated_and_scoped_to_the_franchise(fran_api, other_api, agent_api, franchisee, other_franchisee):
    mine = make_ticket(franchisee, subject="Mío")
    theirs = make_ticket(other_franchisee, subject="Suyo")
    body = fran_api.get("/api/v1/tickets/").json()
    assert [t["id"] for t in body["results"]] == [mine.pk]
    assert body["count"] == 1 and "next" in body
    assert [t["id"] for t in other_api.get("/api/v1/tickets/").json()["results"]] == [theirs.pk]
    assert {t["id"] for t in agent_api.get("/api/v1/tickets/").json()["results"]} == {mine.pk, theirs.pk}


def test_another_franchise_ticket_is_a_404_everywhere(other_api, ticket):
    base = f"/api/v1/tickets/{ticket.pk}/"
    assert other_api.get(base).status_code == 404
    assert other_api.get(base + "comments/").status_code == 404
    assert other_api.post(base + "comments/", {"body": "hola"}, format="json").status_code == 404
    assert other_api.patch(base, {"status": "closed"}, format="json").status_code == 404
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_franchisee_creates_a_ticket_in_their_franchise(fran_api, franchisee, norte):
    response = fran_api.post(
        "/api/v1/tickets/",
        {"subject": "Sin conexión", "description": "El router parpadea", "priority": "high", "franchise": norte.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.franchise_id == franchisee.franchise_id  # the franchise field is ignored for franchisees
    assert ticket.requester_id == franchisee.pk and ticket.priority == "high"
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.CREATED).count() == 1  # through the service


def test_bad_input_is_a_400_and_stores_nothing(fran_api, agent_api):
    assert fran_api.post("/api/v1/tickets/", {"subject": "  ", "description": "x"}, format="json").status_code == 400
    assert (
        fran_api.post("/api/v1/tickets/", {"subject": "a" * 201, "description": "x"}, format="json").status_code == 400
    )
    response = agent_api.post("/api/v1/tickets/", {"subject": "a", "description": "b"}, format="json")
    assert response.status_code == 400 and "franchise" in response.json()  # the service's own rule
    assert not Ticket.objects.exists()


def test_agent_creates_for_a_franchise(agent_api, centro, franchisee):
    response = agent_api.post(
        "/api/v1/tickets/",
        {"subject": "Llamada", "description": "Por teléfono", "franchise": centro.pk, "requester": franchisee.pk},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["requester"]["id"] == franchisee.pk


def test_internal_notes_never_reach_franchisees(fran_api, agent_api, agent, ticket):
    ticket_services.add_comment(ticket=ticket, actor=agent, body="Nota secreta", internal=True)
    ticket_services.add_comment(ticket=ticket, actor=agent, body="Respuesta pública")
    url = f"/api/v1/tickets/{ticket.pk}/comments/"
    assert [c["body"] for c in fran_api.get(url).json()["results"]] == ["Respuesta pública"]
    assert [c["body"] for c in agent_api.get(url).json()["results"]] == ["Nota secreta", "Respuesta pública"]
    # a franchisee asking for an internal note gets a public reply
    response = fran_api.post(url, {"body": "¿Novedades?", "internal": True}, format="json")
    assert response.status_code == 201 and response.json()["internal"] is False
    response = agent_api.post(url, {"body": "Solo equipo", "internal": True}, format="json")
    assert response.status_code == 201 and response.json()["internal"] is True
    assert "Solo equipo" not in fran_api.get(url).content.decode()


def test_franchisee_cannot_patch(fran_api, ticket):
    response = fran_api.patch(f"/api/v1/tickets/{ticket.pk}/", {"status": "closed"}, format="json")
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_agent_patches_through_the_services(agent_api, agent, ticket):
    url = f"/api/v1/tickets/{ticket.pk}/"
    response = agent_api.patch(url, {"assignee": agent.pk, "priority": "urgent", "status": "pending"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["assignee"]["id"] == agent.pk and data["priority"] == "urgent" and data["status"] == "pending"
    kinds = list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {"assigned", "priority", "status"} <= set(kinds)
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is not None  # pending pauses the SLA, as the page does


def test_refused_changes_are_400_and_change_nothing(agent_api, agent2, ticket):
    ticket_services.change_status(ticket=ticket, actor=agent2, status="closed")
    response = agent_api.patch(f"/api/v1/tickets/{ticket.pk}/", {"priority": "low", "status": "open"}, format="json")
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.priority == "normal"  # the priority change rolled back too


def test_reassigning_another_agents_ticket_is_for_supervisors(agent_api, agent, agent2, supervisor, ticket):
    ticket_services.claim(ticket=ticket, actor=agent2)
    url = f"/api/v1/tickets/{ticket.pk}/"
    assert agent_api.patch(url, {"assignee": agent.pk}, format="json").status_code == 400
    response = token_client(supervisor).patch(url, {"assignee": agent.pk}, format="json")
    assert response.status_code == 200 and response.json()["assignee"]["id"] == agent.pk
    assert agent_api.patch(url, {"assignee": None}, format="json").json()["assignee"] is None


# --- knowledge base and chats ---------------------------------------------------------


def _article(agent, slug, status):
    return Article.objects.create(
        title=slug.title(), slug=slug, body="La impresora térmica", status=status, author=agent
    )


def test_articles_published_only_for_franchisees(fran_api, agent_api, agent):
    _article(agent, "publicado", Article.Status.PUBLISHED)
    _article(agent, "borrador", Article.Status.DRAFT)
    assert [a["slug"] for a in fran_api.get("/api/v1/kb/articles/").json()["results"]] == ["publicado"]
    assert fran_api.get("/api/v1/kb/articles/borrador/").status_code == 404
    assert agent_api.get("/api/v1/kb/articles/borrador/").json()["status"] == "draft"
    assert fran_api.get("/api/v1/kb/articles/publicado/").json()["body"] == "La impresora térmica"


def test_search_is_the_suggest_search(fran_api, franchisee, agent, tmp_path, django_capture_on_commit_callbacks):
    from django.test import Client

    from knowledge_base import services as kb_services

    with temporary_search_index(tmp_path / "whoosh"):
        with django_capture_on_commit_callbacks(execute=True):  # the index is updated on commit
            kb_services.create_article(
                actor=agent, title="La impresora no imprime", body="Revisa el papel térmico.", status="published"
            )
            kb_services.create_article(actor=agent, title="Impresora en borrador", body="Papel", status="draft")
        body = fran_api.get("/api/v1/kb/search/", {"q": "impresora"}).json()
        page = Client()
        page.force_login(franchisee)
        suggest = page.get("/kb/suggest/", {"q": "impresora", "limit": 10}).json()
    assert [hit["title"] for hit in body["results"]] == ["La impresora no imprime"]  # drafts stay hidden
    assert body["results"] == suggest["results"] and body["suggestion"] == suggest["suggestion"]


def test_chats_are_scoped(fran_api, other_api, agent_api, franchisee):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Caja")
    assert [c["id"] for c in fran_api.get("/api/v1/chats/").json()["results"]] == [conversation.pk]
    assert other_api.get("/api/v1/chats/").json()["results"] == []
    assert agent_api.get("/api/v1/chats/", {"status": "waiting"}).json()["results"][0]["topic"] == "Caja"
