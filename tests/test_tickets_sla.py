"""SLA due dates, pause while pending, at-risk / breach escalation, auto-close, auto-assignment."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from notifications.models import Notification
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import Category, Event, SlaPolicy, Ticket

pytestmark = pytest.mark.django_db


def test_due_dates_follow_the_policy(franchisee):
    SlaPolicy.objects.create(priority="high", first_response_minutes=60, resolution_minutes=240, at_risk_percent=50)
    ticket = make_ticket(franchisee, priority="high")
    assert ticket.first_response_due == ticket.created_at + timedelta(minutes=60)
    assert ticket.resolution_due == ticket.created_at + timedelta(minutes=240)
    assert ticket.first_response_risk_at == ticket.created_at + timedelta(minutes=30)
    default = make_ticket(franchisee, priority="normal")  # no row: built-in defaults
    assert default.resolution_due == default.created_at + timedelta(days=3)


def test_clock_pauses_while_pending(franchisee, agent):
    ticket = make_ticket(franchisee)
    due = ticket.resolution_due
    services.change_status(ticket=ticket, actor=agent, status="pending")
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is not None
    Ticket.objects.filter(pk=ticket.pk).update(sla_paused_at=timezone.now() - timedelta(hours=5))
    services.change_status(ticket=ticket, actor=agent, status="open")
    ticket.refresh_from_db()
    assert ticket.sla_paused_at is None
    shift = ticket.resolution_due - due
    assert timedelta(hours=5) - timedelta(seconds=5) < shift < timedelta(hours=5, seconds=5)
    assert ticket.sla_paused_seconds >= 5 * 3600 - 5
    # a priority change afterwards keeps the paused time
    services.change_priority(ticket=ticket, actor=agent, priority="urgent")
    ticket.refresh_from_db()
    expected = ticket.created_at + timedelta(hours=4, seconds=ticket.sla_paused_seconds)
    assert ticket.resolution_due == expected


def test_paused_ticket_is_not_escalated(franchisee, agent):
    ticket = make_ticket(franchisee)
    services.change_status(ticket=ticket, actor=agent, status="pending")
    assert services.escalate_sla(now=timezone.now() + timedelta(days=30)) == {"at_risk": 0, "breached": 0}


def test_at_risk_then_breached_once_each(franchisee, agent, supervisor):
    ticket = make_ticket(franchisee, priority="urgent")  # 30 min first response, 4 h resolution, risk at 75 %
    services.claim(ticket=ticket, actor=agent)
    start = ticket.created_at
    assert services.escalate_sla(now=start + timedelta(minutes=10)) == {"at_risk": 0, "breached": 0}
    assert services.escalate_sla(now=start + timedelta(minutes=25)) == {"at_risk": 1, "breached": 0}
    assert services.escalate_sla(now=start + timedelta(minutes=26)) == {"at_risk": 0, "breached": 0}
    ticket.refresh_from_db()
    assert ticket.sla_state == "at_risk"
    assert Notification.objects.filter(kind="sla_at_risk", recipient=agent).count() == 1
    assert Notification.objects.filter(kind="sla_at_risk", recipient=supervisor).count() == 1
    assert services.escalate_sla(now=start + timedelta(minutes=31)) == {"at_risk": 0, "breached": 1}
    assert services.escalate_sla(now=start + timedelta(minutes=40)) == {"at_risk": 0, "breached": 0}
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"
    assert Notification.objects.filter(kind="sla_breached").count() == 2
    events = Event.objects.filter(ticket=ticket, kind__in=["sla_at_risk", "sla_breached"])
    assert events.count() == 2 and all(e.internal for e in events)
    # franchisee never told, and the SLA events are not on their timeline
    assert not Notification.objects.filter(recipient=franchisee, kind__startswith="sla").exists()


def test_first_response_stops_first_response_clock(franchisee, agent):
    ticket = make_ticket(franchisee, priority="urgent")
    services.add_comment(ticket=ticket, actor=agent, body="Estamos en ello")
    assert services.escalate_sla(now=ticket.created_at + timedelta(minutes=60)) == {"at_risk": 0, "breached": 0}
    assert services.escalate_sla(now=ticket.created_at + timedelta(hours=5))["breached"] == 1


def test_command_runs_escalation(franchisee):
    ticket = make_ticket(franchisee, priority="urgent")
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due=timezone.now() - timedelta(minutes=1),
        first_response_risk_at=timezone.now() - timedelta(minutes=5),
    )
    out = StringIO()
    call_command("sla_escalate", stdout=out)
    assert "breached=1" in out.getvalue()
    out = StringIO()
    call_command("sla_escalate", stdout=out)
    assert "breached=0" in out.getvalue()


def test_celery_task(franchisee):
    from tickets.tasks import auto_close_resolved, sla_escalate

    make_ticket(franchisee)
    assert sla_escalate.delay().get() == {"at_risk": 0, "breached": 0}
    assert auto_close_resolved.delay().get() == 0


def test_auto_close_resolved(franchisee, agent, settings):
    settings.TICKETS_AUTO_CLOSE_DAYS = 5
    old, recent = make_ticket(franchisee, subject="viejo"), make_ticket(franchisee, subject="reciente")
    for t in (old, recent):
        services.resolve(ticket=t, actor=agent)
    Ticket.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=6))
    out = StringIO()
    call_command("auto_close_resolved", stdout=out)
    assert "closed=1" in out.getvalue()
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "closed" and old.closed_at and recent.status == "resolved"
    assert services.auto_close_resolved() == 0


@pytest.fixture
def category(agent, agent2):
    category = Category.objects.create(name="TPV", slug="tpv")
    category.agents.add(agent, agent2)
    return category


def test_least_loaded_assignment(franchisee, agent, agent2, category, settings):
    settings.TICKETS_AUTO_ASSIGN = "least_loaded"
    first = make_ticket(franchisee, category=category)
    assert first.assignee == agent  # tie → lowest id
    second = make_ticket(franchisee, category=category)
    assert second.assignee == agent2
    services.resolve(ticket=first, actor=agent)  # resolved tickets do not count as load
    third = make_ticket(franchisee, category=category)
    assert third.assignee == agent
    assert Notification.objects.filter(recipient=agent, kind="ticket_assigned").count() == 2
    assert make_ticket(franchisee).assignee is None  # no category: waits in the queue


def test_inactive_agent_is_skipped(franchisee, agent, agent2, category, settings):
    settings.TICKETS_AUTO_ASSIGN = "least_loaded"
    agent.is_active = False
    agent.save()
    assert make_ticket(franchisee, category=category).assignee == agent2


def test_round_robin_assignment(franchisee, agent, agent2, category, settings):
    settings.TICKETS_AUTO_ASSIGN = "round_robin"
    services.claim(ticket=make_ticket(franchisee), actor=agent)  # load does not matter in round robin
    got = [make_ticket(franchisee, category=category).assignee for _ in range(4)]
    assert got == [agent, agent2, agent, agent2]


def test_auto_assign_off(franchisee, category, settings):
    settings.TICKETS_AUTO_ASSIGN = "off"
    assert make_ticket(franchisee, category=category).assignee is None
