"""/tickets/, /agent/ and the supervisors' reports issue the same number of queries with few and with many rows."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import Category

pytestmark = pytest.mark.django_db


def _fill(n: int, franchisee, agent, category) -> None:
    for i in range(n):
        ticket = make_ticket(franchisee, subject=f"Ticket {i}", category=category if i % 2 else None)
        if i % 3 == 0:
            services.claim(ticket=ticket, actor=agent)
        if i % 5 == 0:
            services.add_comment(ticket=ticket, actor=agent, body="hola")
            services.resolve(ticket=ticket, actor=agent)
            services.rate(ticket=ticket, actor=franchisee, rating=4)


def _count(client, url: str) -> int:
    cache.clear()  # the team figures are cached for a minute: measure the uncached page
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


URLS_FRANCHISEE = ["/tickets/", "/tickets/?status=new", "/tickets/?q=Ticket"]
URLS_AGENT = ["/agent/", "/agent/?view=mine", "/agent/?view=open&sort=-created", "/tickets/"]


def test_query_counts_do_not_grow(franchisee, agent, settings, franchisee_client, agent_client, supervisor_client):
    settings.TICKETS_AUTO_ASSIGN = "off"
    category = Category.objects.create(name="TPV", slug="tpv")
    _fill(5, franchisee, agent, category)
    small = {
        "f": [_count(franchisee_client, u) for u in URLS_FRANCHISEE],
        "a": [_count(agent_client, u) for u in URLS_AGENT],
        "s": [_count(supervisor_client, u) for u in URLS_AGENT],
    }
    _fill(45, franchisee, agent, category)
    large = {
        "f": [_count(franchisee_client, u) for u in URLS_FRANCHISEE],
        "a": [_count(agent_client, u) for u in URLS_AGENT],
        "s": [_count(supervisor_client, u) for u in URLS_AGENT],
    }
    assert small == large


def test_detail_query_count_does_not_grow_with_comments(franchisee, agent, franchisee_client, agent_client):
    ticket = make_ticket(franchisee)
    services.add_comment(ticket=ticket, actor=agent, body="uno")
    before = (_count(franchisee_client, f"/tickets/{ticket.pk}/"), _count(agent_client, f"/tickets/{ticket.pk}/"))
    for i in range(10):
        services.add_comment(ticket=ticket, actor=agent, body=f"c{i}", internal=bool(i % 2))
        services.add_comment(ticket=ticket, actor=franchisee, body=f"r{i}")
    after = (_count(franchisee_client, f"/tickets/{ticket.pk}/"), _count(agent_client, f"/tickets/{ticket.pk}/"))
    assert before == after


def test_lists_are_paginated(franchisee, franchisee_client, agent_client, settings):
    settings.TICKETS_AUTO_ASSIGN = "off"
    for i in range(30):
        make_ticket(franchisee, subject=f"Paginado {i:02d}")
    first = franchisee_client.get("/tickets/")
    assert len(first.context["page"].object_list) == 25 and first.context["page"].has_next
    second = franchisee_client.get("/tickets/?page=2")
    assert [t.subject for t in second.context["page"].object_list] == [f"Paginado {i:02d}" for i in range(4, -1, -1)]
    assert not second.context["page"].has_next
    assert franchisee_client.get("/tickets/?page=abc").context["page"].number == 1
    dashboard = agent_client.get("/agent/?view=open&page=2")
    assert len(dashboard.context["page"].object_list) == 5


def _report_activity(n: int, agents, franchisees) -> None:
    """n tickets spread over the given agents and franchises, each claimed, answered with time
    spent, resolved and rated, with a closed chat each (the figures' chat half) — and the
    audit log's events they write."""
    from datetime import timedelta

    from django.utils import timezone

    from chat.models import Conversation, Message

    now = timezone.now()
    for i in range(n):
        agent, franchisee = agents[i % len(agents)], franchisees[i % len(franchisees)]
        ticket = make_ticket(franchisee, subject=f"Informe {i}")
        services.claim(ticket=ticket, actor=agent)
        services.add_comment(ticket=ticket, actor=agent, body="Hecho", time_spent_minutes=10 + i)
        services.resolve(ticket=ticket, actor=agent)
        services.rate(ticket=ticket, actor=franchisee, rating=1 + i % 5)
        chat = Conversation.objects.create(
            franchise=franchisee.franchise,
            franchisee=franchisee,
            agent=agent,
            status="closed",
            topic=f"Chat {i}",
            created_at=now - timedelta(minutes=30),
            accepted_at=now - timedelta(minutes=29),
            closed_at=now - timedelta(minutes=5),
            rating=1 + i % 5,
        )
        Message.objects.create(conversation=chat, author=agent, body="Dime", created_at=now - timedelta(minutes=28))


REPORT_URLS = [
    "/agent/reports/figures/",
    "/agent/reports/figures/?start=2020-01-01&end=2020-12-31",  # an empty range
    "/agent/reports/audit/",
    "/agent/reports/audit/?kind=status&via=web",
    "/agent/reports/audit/?actor=agente&page=2",
]


def test_report_pages_query_counts_do_not_grow(
    settings, supervisor_client, agent, agent2, supervisor, franchisee, other_franchisee
):
    """The figures (uncached) and the audit log run the same queries with 2 tickets, 2 agents and 1
    franchise as with 40 tickets, 3 agents and 3 franchises (more rows in every breakdown)."""
    from accounts.services import save_franchise, save_user

    settings.TICKETS_AUTO_ASSIGN = "off"
    agent.username = "agente"
    agent.save(update_fields=["username"])
    _report_activity(2, [agent, agent2], [franchisee])
    small = [_count(supervisor_client, url) for url in REPORT_URLS]
    third = save_franchise(code="sur", name="Franquicia Sur")[0]
    third_franchisee = save_user(username="fran_sur", role="franchisee", franchise=third)[0]
    _report_activity(38, [agent, agent2, supervisor], [franchisee, other_franchisee, third_franchisee])
    large = [_count(supervisor_client, url) for url in REPORT_URLS]
    assert small == large
    page = supervisor_client.get("/agent/reports/figures/")
    assert "Franquicia Sur" in page.content.decode()  # the bigger world is on the page
    assert len(supervisor_client.get("/agent/reports/audit/").context["page"].object_list) == 50
