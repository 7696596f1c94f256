"""Audit (issue 16): every entry point writes through tickets.services, so every change lands in
the ticket's timeline with who and where from (`Event.via`); supervisors filter them at
/agent/reports/audit/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from mail.services import ingest
from tests.api_helpers import token_client
from tests.test_mail_inbound import message
from tests.test_security_admin import _change_url, _form_data, _login
from tests.tickets_factories import make_ticket
from tickets import services, tasks
from tickets.models import Event, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def ticket(franchisee) -> Ticket:
    return make_ticket(franchisee)


def _last(ticket: Ticket, kind: str) -> Event:
    return Event.objects.filter(ticket=ticket, kind=kind).latest("id")


def test_page_changes_are_web(agent_client, agent, ticket):
    agent_client.post(f"/tickets/{ticket.pk}/priority/", {"priority": "high"})
    event = _last(ticket, Event.Kind.PRIORITY)
    assert (event.actor, event.new_value, event.via) == (agent, "high", "web")
    assert _last(ticket, Event.Kind.CREATED).via == "system"  # made by a test (no entry point): "system"


def test_franchisee_page_creation_is_web(franchisee_client):
    response = franchisee_client.post(
        "/tickets/new/", {"subject": "No va", "description": "El TPV", "priority": "normal"}
    )
    assert response.status_code == 302
    assert Event.objects.get(kind=Event.Kind.CREATED).via == "web"


def test_admin_changes_are_admin(agent, ticket):
    client = _login(agent)
    url = _change_url(ticket)
    assert client.post(url, _form_data(client, url, priority="urgent")).status_code == 302
    event = _last(ticket, Event.Kind.PRIORITY)
    assert (event.actor, event.via) == (agent, "admin")
    changelist = "/admin/tickets/ticket/"
    client.post(changelist, {"action": "claim_selected", "_selected_action": [ticket.pk]})
    assert _last(ticket, Event.Kind.ASSIGNED).via == "admin"


def test_api_changes_are_api(agent, ticket):
    api = token_client(agent)
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"priority": "low"}, format="json").status_code == 200
    assert _last(ticket, Event.Kind.PRIORITY).via == "api"


def test_email_replies_are_email(franchisee, ticket):
    franchisee.email = "fran@centro.example"
    franchisee.save(update_fields=["email"])
    outcome = ingest(message("reply_gmail_es.eml", ticket))
    assert outcome.code == 0, outcome.reason
    event = _last(ticket, Event.Kind.COMMENTED)
    assert (event.actor, event.via) == (franchisee, "email")


def test_celery_tasks_and_commands_are_tasks(agent, franchisee):
    late = make_ticket(franchisee, "Urgente", priority="urgent")
    Ticket.objects.filter(pk=late.pk).update(
        first_response_risk_at=timezone.now() - timedelta(hours=2),
        first_response_due=timezone.now() - timedelta(hours=1),
        resolution_risk_at=timezone.now() - timedelta(hours=2),
        resolution_due=timezone.now() - timedelta(hours=1),
    )
    assert tasks.sla_escalate()["breached"] == 1
    event = _last(late, Event.Kind.SLA_BREACHED)
    assert (event.actor, event.via, event.internal) == (None, "task", True)

    old = make_ticket(franchisee, "Viejo")
    services.resolve(ticket=old, actor=agent)
    Ticket.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    assert tasks.auto_close_resolved() == 1
    closed = _last(old, Event.Kind.STATUS)
    assert (closed.new_value, closed.actor, closed.via) == (Status.CLOSED, None, "task")

    again = make_ticket(franchisee, "Otro viejo")
    services.resolve(ticket=again, actor=agent)
    Ticket.objects.filter(pk=again.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    call_command("auto_close_resolved", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _last(again, Event.Kind.STATUS).via == "task"


def test_chat_to_ticket_is_chat(agent, franchisee):
    from chat import services as chat_services

    conversation = chat_services.start_conversation(franchisee=franchisee, topic="El datáfono no conecta")
    ticket = chat_services.conversation_to_ticket(conversation_id=conversation.pk, actor=agent)
    assert Event.objects.get(ticket=ticket, kind=Event.Kind.CREATED).via == "chat"


# --- the supervisors' page -------------------------------------------------------------------------


def test_audit_log_is_for_supervisors_only(agent_client, franchisee_client, supervisor_client):
    assert agent_client.get("/agent/reports/audit/").status_code == 404
    assert franchisee_client.get("/agent/reports/audit/").status_code == 404
    assert supervisor_client.get("/agent/reports/audit/").status_code == 200


def test_audit_log_filters_by_actor_franchise_kind_channel_and_date(
    supervisor_client, agent, agent2, franchisee, other_franchisee
):
    centro_ticket, norte_ticket = make_ticket(franchisee, "Centro"), make_ticket(other_franchisee, "Norte")
    services.change_priority(ticket=centro_ticket, actor=agent, priority="high")
    services.change_priority(ticket=norte_ticket, actor=agent2, priority="urgent")
    services.add_comment(ticket=norte_ticket, actor=agent2, body="Nota secreta", internal=True)

    def rows(**query) -> str:
        response = supervisor_client.get("/agent/reports/audit/", query)
        assert response.status_code == 200
        return (
            response.content.decode().split("<tbody>")[1].split("</tbody>")[0]
            if "<tbody>" in response.content.decode()
            else ""
        )

    everything = rows()
    assert centro_ticket.number in everything and norte_ticket.number in everything
    by_actor = rows(actor=agent.username)
    assert centro_ticket.number in by_actor and norte_ticket.number not in by_actor
    by_franchise = rows(franchise=other_franchisee.franchise_id)
    assert norte_ticket.number in by_franchise and centro_ticket.number not in by_franchise
    notes = rows(kind="note")
    assert norte_ticket.number in notes and "Nota interna" in notes and centro_ticket.number not in notes
    assert rows(actor="-", kind="priority") == ""  # nobody's priority change was the system's
    today = timezone.localdate()
    assert norte_ticket.number in rows(start=today.isoformat(), end=today.isoformat())
    assert rows(end=(today - timedelta(days=1)).isoformat()) == ""
    assert centro_ticket.number in rows(via="system", kind="created")
    assert rows(via="api") == ""


def test_audit_log_query_count_does_not_grow_with_rows(
    supervisor_client, agent, franchisee, django_assert_max_num_queries
):
    for i in range(30):
        services.change_priority(ticket=make_ticket(franchisee, f"T{i}"), actor=agent, priority="high")
    with django_assert_max_num_queries(12):
        assert supervisor_client.get("/agent/reports/audit/").status_code == 200
