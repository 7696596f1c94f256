"""Visibility matrix: every ticket URL and action for owner, other franchise, agent and anonymous."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from notifications.models import Notification
from tests.tickets_factories import make_ticket, png
from tickets import services
from tickets.models import Attachment

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(franchisee, agent):
    ticket = make_ticket(franchisee, attachments=[png()])
    services.claim(ticket=ticket, actor=agent)
    services.add_comment(ticket=ticket, actor=agent, body="Respuesta pública con foto", attachments=[png("foto.png")])
    services.add_comment(
        ticket=ticket, actor=agent, body="SECRETO interno del equipo", internal=True, attachments=[png("interno.png")]
    )
    services.resolve(ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    return ticket


def _urls(ticket):
    public = Attachment.objects.get(ticket=ticket, comment__isnull=True)
    pk = ticket.pk
    return {
        "GET": [f"/tickets/{pk}/", f"/tickets/{pk}/attachments/{public.pk}/"],
        "POST": [
            (f"/tickets/{pk}/comments/", {"body": "hola"}),
            (f"/tickets/{pk}/reopen/", {}),
            (f"/tickets/{pk}/rate/", {"rating": "4"}),
        ],
        "AGENT_POST": [
            (f"/tickets/{pk}/claim/", {}),
            (f"/tickets/{pk}/assign/", {"assignee": "1"}),
            (f"/tickets/{pk}/unassign/", {}),
            (f"/tickets/{pk}/status/", {"status": "closed"}),
            (f"/tickets/{pk}/priority/", {"priority": "urgent"}),
            (f"/tickets/{pk}/category/", {"category": ""}),
            (f"/tickets/{pk}/resolve/", {}),
            (f"/tickets/{pk}/close/", {}),
            (f"/tickets/{pk}/merge/", {"target": "1"}),
            (f"/tickets/{pk}/draft-article/", {}),
            ("/tickets/bulk/", {"tickets": [str(pk)], "action": "status", "status": "closed"}),
        ],
    }


def test_other_franchise_gets_404_everywhere_and_nothing_changes(ticket, other_franchisee_client):
    urls = _urls(ticket)
    for url in urls["GET"]:
        assert other_franchisee_client.get(url).status_code == 404, url
    for url, data in urls["POST"] + urls["AGENT_POST"]:
        assert other_franchisee_client.post(url, data).status_code == 404, url
    before = ticket.status
    ticket.refresh_from_db()
    assert ticket.status == before and ticket.rating is None
    assert ticket.comments.count() == 2


def test_franchisee_cannot_use_agent_actions(ticket, franchisee_client):
    for url, data in _urls(ticket)["AGENT_POST"]:
        assert franchisee_client.post(url, data).status_code == 404, url
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_anonymous_is_sent_to_login(ticket):
    client = Client()
    urls = _urls(ticket)
    for url in urls["GET"] + ["/tickets/", "/tickets/new/", "/agent/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for url, data in urls["POST"] + urls["AGENT_POST"]:
        response = client.post(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_unknown_ticket_is_404(franchisee_client, agent_client):
    assert franchisee_client.get("/tickets/999999/").status_code == 404
    assert agent_client.get("/tickets/999999/").status_code == 404


def test_franchisee_list_shows_only_own_franchise(ticket, other_franchisee, other_franchisee_client, franchisee_client):
    make_ticket(other_franchisee, subject="Problema de Norte")
    own = franchisee_client.get("/tickets/").content.decode()
    assert ticket.subject in own and "Problema de Norte" not in own
    other = other_franchisee_client.get("/tickets/").content.decode()
    assert ticket.subject not in other and "Problema de Norte" in other


def test_agent_dashboard_is_404_for_franchisees(franchisee_client):
    assert franchisee_client.get("/agent/").status_code == 404


def test_internal_notes_never_reach_the_franchisee(ticket, franchisee, franchisee_client, agent_client):
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Respuesta pública con foto" in page
    assert "SECRETO" not in page and "interno.png" not in page and "Nota interna" not in page
    assert "SECRETO" not in franchisee_client.get("/tickets/").content.decode()
    # the agent sees it
    assert "SECRETO" in agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    # the internal attachment is a 404 for the franchisee, served to the agent
    internal = Attachment.objects.get(ticket=ticket, original_name="interno.png")
    assert franchisee_client.get(f"/tickets/{ticket.pk}/attachments/{internal.pk}/").status_code == 404
    assert agent_client.get(f"/tickets/{ticket.pk}/attachments/{internal.pk}/").status_code == 200
    # no notification or e-mail for the franchisee mentions it
    for n in Notification.objects.filter(recipient=franchisee):
        assert "SECRETO" not in n.title + n.body
    for message in mail.outbox:
        if franchisee.email in message.to:
            assert "SECRETO" not in message.body + message.subject
    assert franchisee_client.get("/notifications/").status_code in (200, 404)


def test_franchisee_internal_flag_is_ignored(ticket, franchisee, franchisee_client):
    services.reopen(ticket=ticket, actor=franchisee)
    response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "¿Me oís?", "internal": "on"})
    assert response.status_code == 302
    comment = ticket.comments.latest("created_at")
    assert comment.body == "¿Me oís?" and comment.internal is False


def test_attachment_download_is_a_safe_attachment(ticket, franchisee_client):
    public = Attachment.objects.get(ticket=ticket, comment__isnull=True)
    response = franchisee_client.get(f"/tickets/{ticket.pk}/attachments/{public.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    # an attachment id of another ticket is not reachable through this ticket's URL
    assert franchisee_client.get(f"/tickets/{ticket.pk + 1}/attachments/{public.pk}/").status_code == 404


def test_admin_pages_for_staff(ticket, supervisor_client, franchisee_client):
    for url in ["/admin/tickets/ticket/", f"/admin/tickets/ticket/{ticket.pk}/change/", "/admin/tickets/slapolicy/"]:
        assert supervisor_client.get(url).status_code == 200, url
    assert supervisor_client.get("/admin/tickets/ticket/?status__exact=resolved&q=datáfono").status_code == 200
    assert franchisee_client.get("/admin/tickets/ticket/").status_code == 302


def test_admin_action_goes_through_the_service(franchisee, supervisor_client):
    open_ticket = make_ticket(franchisee, subject="Abierto")
    response = supervisor_client.post(
        "/admin/tickets/ticket/", {"action": "mark_resolved", "_selected_action": [open_ticket.pk]}, follow=True
    )
    assert response.status_code == 200
    open_ticket.refresh_from_db()
    assert open_ticket.status == "resolved" and open_ticket.events.filter(kind="status", new_value="resolved").exists()
