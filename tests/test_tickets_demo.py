"""seed_demo adds tickets in every state across both franchises, idempotently; team figures."""

from __future__ import annotations

from io import StringIO

import pytest

from accounts import demo as accounts_demo
from tickets import demo as tickets_demo
from tickets import figures
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


def test_demo_tickets_every_state_idempotent(client):
    """What seed_demo runs for tickets (after the demo users), twice."""
    accounts_demo.seed(password="demo-Pass-1", stdout=StringIO())
    tickets_demo.seed(password="demo-Pass-1", stdout=StringIO())
    count = Ticket.objects.count()
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Ticket.objects.values_list("franchise__code", flat=True)) == {"centro", "norte"}
    tickets_demo.seed(password="demo-Pass-1", stdout=StringIO())
    assert Ticket.objects.count() == count
    from accounts.models import User

    client.force_login(User.objects.get(username="supervisor"))
    page = client.get("/agent/").content.decode()
    assert "Cifras del equipo" in page
    result = figures.team_figures()
    assert result.periods[1].resolved >= 4 and result.periods[1].csat is not None
    assert (
        sum(n for _, _, n in result.open_by_status)
        == Ticket.objects.filter(status__in=["new", "open", "pending", "on_hold"]).count()
    )


def test_agents_do_not_see_team_figures_but_supervisors_do(agent_client, supervisor_client):
    assert "Cifras del equipo" not in agent_client.get("/agent/").content.decode()
    assert "Cifras del equipo" in supervisor_client.get("/agent/").content.decode()


def test_home_lists_recent_tickets(franchisee, franchisee_client):
    from tests.tickets_factories import make_ticket

    make_ticket(franchisee, subject="Mi ticket reciente")
    assert "Mi ticket reciente" in franchisee_client.get("/").content.decode()
