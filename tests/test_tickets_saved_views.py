"""Saved views: agents save, name, share and order filter combinations, shown as /agent/ tabs with
cached live counts (no COUNT per tab per request)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tickets_factories import make_ticket
from tickets import services, tab_counts
from tickets.models import SavedView

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"
    settings.TICKETS_TAB_COUNT_FRESH = 3600
    cache.clear()


def tabs(response) -> list[tuple[str, str]]:
    return [(t.label, str(t.count)) for t in response.context["tabs"]]


def test_agent_saves_the_current_filters_as_a_tab(franchisee, agent, agent_client):
    urgent = make_ticket(franchisee, subject="Urgente", priority="urgent")
    make_ticket(franchisee, subject="Normal")
    services.set_tags(ticket=urgent, actor=agent, tags=["caja"])
    response = agent_client.post(
        "/agent/views/new/", {"name": "Urgentes de caja", "query": "view=open&priority=urgent&tag=caja&page=3&x=1"}
    )
    view = SavedView.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/agent/?saved={view.pk}"
    assert view.query == "priority=urgent&tag=caja&view=open" and view.owner == agent and not view.shared

    page = agent_client.get(f"/agent/?saved={view.pk}")
    assert [t.pk for t in page.context["page"].object_list] == [urgent.pk]
    assert ("Urgentes de caja", "1") in tabs(page)
    assert ("Todos los abiertos", "2") in tabs(page) and ("Sin asignar", "2") in tabs(page)
    current = [t.label for t in page.context["tabs"] if t.current]
    assert current == ["Urgentes de caja"]
    html = page.content.decode()
    assert 'aria-current="page" class="current">Urgentes de caja' in html


def test_sharing_and_ownership(franchisee, agent, agent2, agent_client, franchisee_client):
    from tests.conftest import _client_for

    mine = services.save_view(actor=agent, name="Privada", query="view=open")
    shared = services.save_view(actor=agent, name="Del equipo", query="view=open&sla=breached", shared=True)
    other = _client_for(agent2)
    labels = [label for label, _count in tabs(other.get("/agent/"))]
    assert "Del equipo" in labels and "Privada" not in labels
    # a private view of another agent is not opened (the default queue is shown instead)
    assert other.get(f"/agent/?saved={mine.pk}").context["saved_view"] is None
    assert other.get(f"/agent/?saved={shared.pk}").context["saved_view"] == shared
    # only the owner changes, orders or deletes a view: anyone else gets a 404
    for url, data in [
        (f"/agent/views/{shared.pk}/", {"name": "Mía", "shared": "on"}),
        (f"/agent/views/{shared.pk}/move/", {"direction": "up"}),
        (f"/agent/views/{shared.pk}/delete/", {}),
    ]:
        assert other.post(url, data).status_code == 404
        assert franchisee_client.post(url, data).status_code == 404
    assert franchisee_client.get("/agent/views/").status_code == 404
    assert "Del equipo" in other.get("/agent/views/").content.decode()

    agent_client.post(f"/agent/views/{shared.pk}/", {"name": "Incumplidos"})  # unshared by the owner
    shared.refresh_from_db()
    assert (shared.name, shared.shared) == ("Incumplidos", False)
    assert "Incumplidos" not in [label for label, _c in tabs(other.get("/agent/"))]
    agent_client.post(f"/agent/views/{mine.pk}/delete/")
    assert not SavedView.objects.filter(pk=mine.pk).exists()


def test_names_are_unique_per_agent_and_required(agent, agent_client):
    services.save_view(actor=agent, name="Mis urgentes", query="priority=urgent")
    agent_client.post("/agent/views/new/", {"name": "mis URGENTES", "query": ""})
    agent_client.post("/agent/views/new/", {"name": "   ", "query": ""})
    assert SavedView.objects.count() == 1
    assert "Ya tienes una vista llamada" in agent_client.get("/agent/").content.decode()


def test_agents_order_their_tabs(agent, agent_client):
    a, _b, c = (services.save_view(actor=agent, name=n, query=f"priority={p}") for n, p in
               [("A", "low"), ("B", "high"), ("C", "urgent")])  # fmt: skip

    def order():
        return [label for label, _count in tabs(agent_client.get("/agent/"))][3:]

    assert order() == ["A", "B", "C"]
    agent_client.post(f"/agent/views/{c.pk}/move/", {"direction": "up"})
    assert order() == ["A", "C", "B"]
    agent_client.post(f"/agent/views/{a.pk}/move/", {"direction": "down"})
    agent_client.post(f"/agent/views/{a.pk}/move/", {"direction": "down"})
    agent_client.post(f"/agent/views/{a.pk}/move/", {"direction": "down"})  # already last: no change
    assert order() == ["C", "B", "A"]


def is_tab_count(sql: str) -> bool:
    return sql.upper().startswith("SELECT COUNT(") and "tickets_ticket" in sql


def _dashboard(client, url="/agent/"):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response, [q["sql"] for q in ctx.captured_queries]


def test_tab_counts_are_cached_not_counted_per_request(franchisee, agent, agent_client):
    for i in range(3):
        make_ticket(franchisee, subject=f"T{i}", priority="high" if i else "low")
    for name, query in [("Altas", "priority=high"), ("Bajas", "priority=low"), ("Mías", "view=mine")]:
        services.save_view(actor=agent, name=name, query=query)
    first, first_sql = _dashboard(agent_client)
    assert ("Altas", "2") in tabs(first) and ("Bajas", "1") in tabs(first) and ("Mías", "0") in tabs(first)
    counts_first = [sql for sql in first_sql if is_tab_count(sql)]
    assert len(counts_first) == 6  # the 3 queues and the 3 views, counted once

    second, second_sql = _dashboard(agent_client)
    assert tabs(second) == tabs(first)
    assert not [sql for sql in second_sql if is_tab_count(sql)]

    # more views and more tickets: the same number of queries once the counts are cached
    services.save_view(actor=agent, name="Urgentes", query="priority=urgent")
    services.save_view(actor=agent, name="Pendientes", query="status=pending")
    for i in range(10):
        make_ticket(franchisee, subject=f"Más {i}")
    _dashboard(agent_client)  # the two new tabs are counted once
    _third, third_sql = _dashboard(agent_client)
    assert len(third_sql) == len(second_sql)


def test_a_stale_count_is_shown_and_recounted_in_the_background(franchisee, agent, agent_client, settings):
    services.save_view(actor=agent, name="Altas", query="priority=high")
    make_ticket(franchisee, priority="high")
    assert ("Altas", "1") in tabs(agent_client.get("/agent/"))
    make_ticket(franchisee, priority="high")
    assert ("Altas", "1") in tabs(agent_client.get("/agent/"))  # cached, still fresh
    settings.TICKETS_TAB_COUNT_FRESH = 0
    assert ("Altas", "1") in tabs(agent_client.get("/agent/"))  # stale: shown, and the recount is queued
    settings.TICKETS_TAB_COUNT_FRESH = 3600
    assert ("Altas", "2") in tabs(agent_client.get("/agent/"))  # (Celery is eager in the tests)


def test_a_shared_view_is_counted_once_for_every_agent(franchisee, agent, agent2):
    from tickets.selectors import DashboardFilters

    make_ticket(franchisee, priority="high")
    filters = DashboardFilters(view="open", priority="high")
    assert str(tab_counts.tab_counts(agent, {"x": filters})["x"]) == "1"
    with CaptureQueriesContext(connection) as ctx:
        assert str(tab_counts.tab_counts(agent2, {"x": filters})["x"]) == "1"
    assert len(ctx.captured_queries) == 0
    mine = DashboardFilters(view="mine")
    assert tab_counts._key(agent, mine) != tab_counts._key(agent2, mine)


def test_counts_are_capped(franchisee, agent, monkeypatch):
    from tickets.selectors import DashboardFilters

    monkeypatch.setattr(tab_counts, "TAB_COUNT_CAP", 2)
    for _ in range(4):
        make_ticket(franchisee)
    result = tab_counts.count(agent, DashboardFilters(view="open"))
    assert (result.value, result.capped, str(result)) == (2, True, "2+")


def test_saved_filters_cover_assignee_sla_text_and_custom_fields(franchisee, agent, agent2, agent_client):
    a = make_ticket(franchisee, subject="Impresora atascada")
    make_ticket(franchisee, subject="Impresora sin papel")
    services.claim(ticket=a, actor=agent2)
    view = services.save_view(actor=agent, name="De Ana", query=f"view=open&assignee={agent2.pk}&q=impresora&sla=ok")
    page = agent_client.get(f"/agent/?saved={view.pk}")
    assert [t.pk for t in page.context["page"].object_list] == [a.pk]
    me = services.save_view(actor=agent2, name="Yo", query="view=open&assignee=me")
    from tests.conftest import _client_for

    assert [t.pk for t in _client_for(agent2).get(f"/agent/?saved={me.pk}").context["page"].object_list] == [a.pk]


def test_a_ticket_change_makes_the_counts_stale(
    franchisee, agent, agent_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tab_counts, "RECOUNT_MIN_SECONDS", 0)
    services.save_view(actor=agent, name="Altas", query="priority=high")
    ticket = make_ticket(franchisee, priority="high")
    assert ("Altas", "1") in tabs(agent_client.get("/agent/"))
    with django_capture_on_commit_callbacks(execute=True):
        services.change_priority(ticket=ticket, actor=agent, priority="low")  # a timeline event: stale
    assert ("Altas", "1") in tabs(agent_client.get("/agent/"))  # shown while recounted (eager Celery)
    assert ("Altas", "0") in tabs(agent_client.get("/agent/"))
