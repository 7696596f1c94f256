"""Schemathesis against the project's own OpenAPI schema, through the WSGI app, for a
franchisee's and an agent's token: no 5xx, and every response (status, content type, body,
headers) matches the schema. Real data exists, so known ids are checked too."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import save_franchise, save_user
from chat import services as chat_services
from knowledge_base.models import Article
from support_portal.wsgi import application
from tests.api_helpers import token_client, token_for
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]


@pytest.fixture
def in_process_wsgi():
    """The app runs in this test's transaction: keep Django from closing its connection per request
    (what django.test.Client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["franchisee", "agent"])
def world(request, db, in_process_wsgi, settings):
    """Two franchises with tickets, comments (one internal), a follower, a link, articles and a chat;
    a token of the role."""
    settings.API_THROTTLE_RATE = "100000/minute"
    settings.TICKETS_AUTO_ASSIGN = "off"
    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    norte = save_franchise(code="norte", name="Franquicia Norte")[0]
    fran = save_user(username="st_fran", role="franchisee", franchise=centro)[0]
    other = save_user(username="st_other", role="franchisee", franchise=norte)[0]
    agent = save_user(username="st_agent", role="agent")[0]
    mine = make_ticket(fran, subject="Mío")
    theirs = make_ticket(other, subject="Suyo")
    ticket_services.add_comment(ticket=mine, actor=agent, body="Pública")
    ticket_services.add_comment(ticket=mine, actor=agent, body="Interna", internal=True)
    Article.objects.create(title="Publicado", slug="publicado", body="Texto", status="published", author=agent)
    Article.objects.create(title="Borrador", slug="borrador", body="Texto", status="draft", author=agent)
    chat_services.start_conversation(franchisee=fran, topic="Caja")
    colleague = save_user(username="st_colleague", role="franchisee", franchise=centro)[0]
    ticket_services.add_follower(ticket=mine, actor=agent, follower=colleague)
    ticket_services.link_tickets(ticket=mine, actor=agent, kind="blocks", other=make_ticket(fran, subject="Otro"))
    user = fran if request.param == "franchisee" else agent
    return {"role": request.param, "key": token_for(user), "mine": mine.pk, "theirs": theirs.pk}


def _project_schema() -> dict:
    """What /api/schema/ serves (drf-spectacular's generator; no database needed at collection)."""
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(json.loads(json.dumps(_project_schema(), cls=DjangoJSONEncoder)))
schema.app = application  # requests go through the WSGI app in this process


@pytest.fixture
def api_schema():
    return schema


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_match_the_schema(case, world):
    case.call_and_validate(headers={"Authorization": f"Token {world['key']}"}, checks=CHECKS)


def test_known_objects_match_the_schema(api_schema, world):
    """Responses for rows that exist (generated ids rarely hit one): 200s of every GET match too."""
    auth = {"Authorization": f"Token {world['key']}"}
    calls = [
        ("/api/v1/tickets/", "GET", {}),
        ("/api/v1/tickets/{id}/", "GET", {"id": world["mine"]}),
        ("/api/v1/tickets/{id}/comments/", "GET", {"id": world["mine"]}),
        ("/api/v1/tickets/{id}/followers/", "GET", {"id": world["mine"]}),
        ("/api/v1/tickets/{id}/links/", "GET", {"id": world["mine"]}),
        ("/api/v1/kb/articles/", "GET", {}),
        ("/api/v1/kb/articles/{slug}/", "GET", {"slug": "publicado"}),
        ("/api/v1/chats/", "GET", {}),
    ]
    for path, method, params in calls:
        case = api_schema[path][method].Case(path_parameters=params)
        response = case.call_and_validate(headers=auth, checks=CHECKS)
        assert response.status_code == 200, (path, response.status_code)
    other = api_schema["/api/v1/tickets/{id}/"]["GET"].Case(path_parameters={"id": world["theirs"]})
    expected = 404 if world["role"] == "franchisee" else 200
    assert other.call_and_validate(headers=auth, checks=CHECKS).status_code == expected
    comments = api_schema["/api/v1/tickets/{id}/comments/"]["GET"].Case(path_parameters={"id": world["mine"]})
    bodies = [c["body"] for c in comments.call(headers=auth).json()["results"]]
    assert ("Interna" in bodies) is (world["role"] == "agent")
    # last: django.test's client reconnects the per-request connection closing that in_process_wsgi removed
    served = token_client(key=world["key"]).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert served == api_schema.raw_schema  # the schema under test is the one the API serves
