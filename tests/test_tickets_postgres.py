"""Claim is atomic: two real concurrent transactions on PostgreSQL, exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tests.conftest import require_env
from tests.tickets_factories import make_ticket
from tickets import figures, services
from tickets.models import Event, Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")


def _race(ticket_pk: int, agents, action) -> list:
    """Run `action(ticket, agent)` for each agent in its own thread and connection, all at once."""
    barrier = threading.Barrier(len(agents))
    results: list = [None] * len(agents)

    def run(i: int, agent) -> None:
        try:
            ticket = Ticket.objects.get(pk=ticket_pk)
            barrier.wait(timeout=10)
            action(ticket, agent)
            results[i] = "won"
        except services.TicketError as exc:
            results[i] = str(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_concurrent_claims_exactly_one_wins(franchisee, agent, agent2):
    for _ in range(5):  # repeat: each round is a real race between two connections
        ticket = make_ticket(franchisee)
        results = _race(ticket.pk, [agent, agent2], lambda t, a: services.claim(ticket=t, actor=a))
        assert results.count("won") == 1, results
        loser = next(r for r in results if r != "won")
        assert "ya ha tomado" in loser
        ticket.refresh_from_db()
        winner = agent if results[0] == "won" else agent2
        assert ticket.assignee == winner
        assert Event.objects.filter(ticket=ticket, kind="assigned").count() == 1


def test_concurrent_assign_does_not_overwrite(franchisee, agent, agent2):
    ticket = make_ticket(franchisee)
    results = _race(ticket.pk, [agent, agent2], lambda t, a: services.assign(ticket=t, actor=a, assignee=a))
    assert results.count("won") == 1, results
    assert Event.objects.filter(ticket=ticket, kind="assigned").count() == 1


def test_team_figures_use_percentile_cont(franchisee, agent):
    for _ in range(3):
        ticket = make_ticket(franchisee)
        services.add_comment(ticket=ticket, actor=agent, body="hola")
        services.resolve(ticket=ticket, actor=agent)
        services.rate(ticket=ticket, actor=franchisee, rating=4)
    result = figures.team_figures()
    week = result.periods[0]
    assert week.resolved == 3 and week.sla_compliance == 100.0 and week.csat == 4.0
    assert week.median_first_response is not None and week.median_resolution is not None
