"""Tags: agents put and take labels from the ticket page, the admin and the API; lists filter by them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import TAGS_PER_TICKET, Event, Tag
from tickets.tags import parse_tags

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee, subject="La TPV no arranca")


def names(ticket) -> list[str]:
    return sorted(ticket.tags.values_list("name", flat=True))


def test_names_are_normalised():
    assert parse_tags(" TPV Ingenico , tpv-ingenico,Facturación,, ") == ["tpv-ingenico", "facturación"]
    assert parse_tags(["<script>", "a" * 80]) == ["script", "a" * 50]


def test_agent_adds_and_removes_tags_on_the_page_with_timeline_events(ticket, agent_client, franchisee_client):
    response = agent_client.post(f"/tickets/{ticket.pk}/tags/", {"add": "TPV, urgente-cliente"})
    assert response.status_code == 302
    assert names(ticket) == ["tpv", "urgente-cliente"]
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "#tpv" in page and "añadió las etiquetas tpv, urgente-cliente" in page

    agent_client.post(f"/tickets/{ticket.pk}/tags/", {"remove": "tpv"})
    assert names(ticket) == ["urgente-cliente"]
    events = list(Event.objects.filter(ticket=ticket, kind=Event.Kind.TAGS).order_by("id"))
    assert [(e.old_value, e.new_value, e.internal) for e in events] == [
        ("", "tpv, urgente-cliente", True),
        ("tpv", "", True),
    ]
    # the same post again changes nothing and records nothing
    agent_client.post(f"/tickets/{ticket.pk}/tags/", {"add": "urgente-cliente"})
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.TAGS).count() == 2
    # agents' labels: the franchisee sees neither the tags nor their events
    own_page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "urgente-cliente" not in own_page


def test_franchisees_cannot_tag(ticket, franchisee, franchisee_client, other_franchisee_client):
    assert franchisee_client.post(f"/tickets/{ticket.pk}/tags/", {"add": "x"}).status_code == 404
    assert other_franchisee_client.post(f"/tickets/{ticket.pk}/tags/", {"add": "x"}).status_code == 404
    with pytest.raises(services.TicketError):
        services.set_tags(ticket=ticket, actor=franchisee, tags=["x"])
    assert names(ticket) == []


def test_too_many_tags_are_refused_whole(ticket, agent, agent_client):
    with pytest.raises(ValidationError):
        services.set_tags(ticket=ticket, actor=agent, tags=[f"t{i}" for i in range(TAGS_PER_TICKET + 1)])
    response = agent_client.post(f"/tickets/{ticket.pk}/tags/", {"add": ",".join(f"t{i}" for i in range(30))})
    assert response.status_code == 302 and names(ticket) == []
    assert "Como máximo" in agent_client.get(f"/tickets/{ticket.pk}/").content.decode()


def test_lists_filter_by_tag_and_show_tags(franchisee, agent, agent_client, franchisee_client):
    tagged = make_ticket(franchisee, subject="Con etiqueta")
    plain = make_ticket(franchisee, subject="Sin etiqueta")
    services.set_tags(ticket=tagged, actor=agent, tags=["impresora"])
    dashboard = agent_client.get("/agent/?view=open&tag=Impresora")
    assert [t.pk for t in dashboard.context["page"].object_list] == [tagged.pk]
    assert "#impresora" in dashboard.content.decode()
    listing = agent_client.get("/tickets/?tag=impresora")
    assert [t.pk for t in listing.context["page"].object_list] == [tagged.pk]
    everything = agent_client.get("/agent/?view=open")
    assert {t.pk for t in everything.context["page"].object_list} == {tagged.pk, plain.pk}
    # a franchisee's tag filter is ignored and tags are never shown to them
    own = franchisee_client.get("/tickets/?tag=impresora")
    assert {t.pk for t in own.context["page"].object_list} == {tagged.pk, plain.pk}
    assert "#impresora" not in own.content.decode()


def _queries(client, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_tag_lists_keep_a_constant_query_count(franchisee, agent, agent_client):
    def fill(n):
        for i in range(n):
            services.set_tags(ticket=make_ticket(franchisee, subject=f"T{i}"), actor=agent, tags=["red", f"x{i}"])

    fill(3)
    urls = ["/agent/?view=open", "/agent/?view=open&tag=red", "/tickets/?tag=red", "/tickets/"]
    small = [_queries(agent_client, u) for u in urls]
    fill(12)
    assert [_queries(agent_client, u) for u in urls] == small


def test_api_shows_tags_to_agents_and_lets_them_patch(ticket, agent, franchisee):
    agent_api = token_client(agent)
    response = agent_api.patch(f"/api/v1/tickets/{ticket.pk}/", {"tags": ["Red", "wifi"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["red", "wifi"]
    assert agent_api.get("/api/v1/tickets/").json()["results"][0]["tags"] == ["red", "wifi"]
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.TAGS, actor=agent).count() == 1
    too_many = agent_api.patch(f"/api/v1/tickets/{ticket.pk}/", {"tags": [f"t{i}" for i in range(30)]}, format="json")
    assert too_many.status_code == 400

    fran_api = token_client(franchisee)
    assert "tags" not in fran_api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert "tags" not in fran_api.get("/api/v1/tickets/").json()["results"][0]
    assert fran_api.patch(f"/api/v1/tickets/{ticket.pk}/", {"tags": []}, format="json").status_code == 403
    assert names(ticket) == ["red", "wifi"]


def test_admin_edits_tags_through_the_service(ticket, supervisor_client):
    Tag.objects.create(name="caja")
    tag = Tag.objects.get(name="caja")
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"
    form = supervisor_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "watchers"}
    data["watchers"] = [u.pk for u in ticket.watchers.all()]
    data["tags"] = [tag.pk]
    data["category"] = data.get("category") or ""
    data["assignee"] = data.get("assignee") or ""
    for prefix in ("comments", "attachments", "events"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = supervisor_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert names(ticket) == ["caja"]
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.TAGS, new_value="caja").exists()
