"""State machine, assignment, comments, merge, bulk, CSAT, reopen window, notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services import save_user
from notifications.models import Notification
from tests.conftest import PASSWORD
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import TRANSITIONS, Event, Status, Ticket

pytestmark = pytest.mark.django_db


def _ticket_in(status: str, franchisee, agent) -> Ticket:
    """A ticket brought to `status` through the services."""
    ticket = make_ticket(franchisee)
    path = {
        "new": [],
        "open": ["open"],
        "pending": ["pending"],
        "on_hold": ["on_hold"],
        "resolved": ["resolved"],
        "closed": ["closed"],
    }[status]
    for step in path:
        services.change_status(ticket=ticket, actor=agent, status=step)
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


@pytest.mark.parametrize("source", Status.values)
@pytest.mark.parametrize("target", Status.values)
def test_every_transition_allowed_or_refused(source, target, franchisee, agent):
    ticket = _ticket_in(source, franchisee, agent)
    events_before = ticket.events.count()
    if target in TRANSITIONS[source]:
        services.change_status(ticket=ticket, actor=agent, status=target)
        ticket.refresh_from_db()
        assert ticket.status == target
        assert ticket.events.filter(kind=Event.Kind.STATUS).last().new_value == target
    else:
        with pytest.raises(services.TicketError):
            services.change_status(ticket=ticket, actor=agent, status=target)
        ticket.refresh_from_db()
        assert ticket.status == source
        assert ticket.events.count() == events_before


def test_status_change_via_page_reports_invalid_transition(franchisee, agent, agent_client):
    ticket = _ticket_in("closed", franchisee, agent)
    response = agent_client.post(f"/tickets/{ticket.pk}/status/", {"status": "open"}, follow=True)
    assert "No se puede pasar" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_franchisee_cannot_change_status_in_service(franchisee):
    ticket = make_ticket(franchisee)
    with pytest.raises(services.TicketError):
        services.change_status(ticket=ticket, actor=franchisee, status="closed")


def test_create_through_form_redirects_and_notifies_agents(franchisee_client, franchisee, agent, agent2):
    response = franchisee_client.post("/tickets/new/", {"subject": "No hay red", "description": "Nada conecta"})
    ticket = Ticket.objects.get(subject="No hay red")
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.pk}/"
    assert ticket.franchise == franchisee.franchise and ticket.requester == franchisee
    assert ticket.status == "new" and ticket.source == "web"
    assert Notification.objects.filter(kind="ticket_new", recipient=agent).exists()
    assert Notification.objects.filter(kind="ticket_new", recipient=agent2).exists()


def test_new_form_has_kb_suggest_hooks(franchisee_client):
    page = franchisee_client.get("/tickets/new/").content.decode()
    assert "data-kb-suggest" in page and 'data-kb-results="#kb-suggestions"' in page
    assert 'id="kb-suggestions"' in page and "knowledge_base/suggest.js" in page


def test_agent_creates_on_behalf_of_franchise(agent, franchisee, centro):
    ticket = services.create_ticket(
        actor=agent, subject="Desde el chat", description="transcripción", franchise=centro, source="chat"
    )
    assert ticket.franchise == centro and ticket.requester is None and ticket.source == "chat"
    ticket = services.create_ticket(
        actor=agent, subject="Para Lucía", description="x", franchise=centro, requester=franchisee
    )
    assert Notification.objects.filter(recipient=franchisee, kind="ticket_status", target_id=str(ticket.pk)).exists()


def test_agent_create_requires_franchise(agent):
    with pytest.raises(ValidationError):
        services.create_ticket(actor=agent, subject="x", description="y")
    assert not Ticket.objects.exists()


def test_first_public_reply_sets_first_response_and_opens(franchisee, agent):
    ticket = make_ticket(franchisee)
    services.add_comment(ticket=ticket, actor=agent, body="nota", internal=True)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.status == "new"
    services.add_comment(ticket=ticket, actor=agent, body="Hola")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None and ticket.status == "open"
    note = Notification.objects.get(recipient=franchisee, kind="ticket_comment")
    assert "Hola" in note.body


def test_franchisee_reply_reopens_pending(franchisee, agent):
    ticket = _ticket_in("pending", franchisee, agent)
    services.add_comment(ticket=ticket, actor=franchisee, body="Ya está la foto")
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.sla_paused_at is None


def test_status_changes_notify_requester(franchisee, agent):
    ticket = make_ticket(franchisee)
    services.change_status(ticket=ticket, actor=agent, status="resolved")
    assert Notification.objects.filter(recipient=franchisee, kind="ticket_status").count() == 1


def test_claim_and_second_claim_gets_clear_message(franchisee, agent, agent2, agent_client):
    ticket = make_ticket(franchisee)
    services.claim(ticket=ticket, actor=agent2)
    response = agent_client.post(f"/tickets/{ticket.pk}/claim/", follow=True)
    assert "ya ha tomado" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee == agent2 and ticket.status == "open"


def test_assign_notifies_and_reassign_needs_supervisor(franchisee, agent, agent2, supervisor):
    ticket = make_ticket(franchisee)
    services.assign(ticket=ticket, actor=agent, assignee=agent2)
    assert Notification.objects.filter(recipient=agent2, kind="ticket_assigned").exists()
    with pytest.raises(services.TicketError):
        services.assign(ticket=ticket, actor=agent, assignee=agent)
    services.assign(ticket=ticket, actor=supervisor, assignee=agent)
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    with pytest.raises(services.TicketError):
        services.assign(ticket=ticket, actor=agent, assignee=franchisee)
    with pytest.raises(services.TicketError):
        services.unassign(ticket=ticket, actor=agent2)
    services.unassign(ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_priority_change_recomputes_due_dates(franchisee, agent):
    ticket = make_ticket(franchisee, priority="low")
    due = ticket.resolution_due
    services.change_priority(ticket=ticket, actor=agent, priority="urgent")
    ticket.refresh_from_db()
    assert ticket.resolution_due < due
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=4)


def test_reopen_within_window_and_refused_after(franchisee, agent, franchisee_client, settings):
    settings.TICKETS_REOPEN_DAYS = 3
    ticket = _ticket_in("resolved", franchisee, agent)
    response = franchisee_client.post(f"/tickets/{ticket.pk}/reopen/", {"reason": "Sigue fallando"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.resolved_at is None
    assert ticket.comments.filter(body="Sigue fallando", internal=False).exists()

    services.resolve(ticket=ticket, actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=4))
    response = franchisee_client.post(f"/tickets/{ticket.pk}/reopen/", follow=True)
    assert "ha terminado" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    services.reopen(ticket=ticket, actor=agent)  # agents may reopen any time
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_a_reply_on_the_page_to_a_closed_ticket_opens_a_linked_follow_up(
    franchisee, agent, franchisee_client, agent_client
):
    ticket = make_ticket(franchisee, subject="La TPV no arranca")
    services.claim(ticket=ticket, actor=agent)
    services.resolve(ticket=ticket, actor=agent)
    services.close(ticket=ticket, actor=agent)
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="closed-reply-hint"' in page  # the form says what a reply will do
    response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Vuelve a fallar"}, follow=True)
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.redirect_chain[-1][0] == f"/tickets/{follow_up.pk}/"
    text = response.content.decode()
    assert f"Continúa el ticket cerrado {ticket.number}" in text and "Vuelve a fallar" in text
    assert (follow_up.requester, follow_up.franchise, follow_up.subject) == (
        franchisee,
        ticket.franchise,
        ticket.subject,
    )
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.FOLLOW_UP, new_value=follow_up.number).exists()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and not ticket.comments.filter(body="Vuelve a fallar").exists()
    # an agent's public reply does the same (for the requester); an internal note stays on the closed ticket
    agent_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Seguimos aquí"})
    assert Ticket.objects.filter(follow_up_of=ticket, requester=franchisee).count() == 2
    agent_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Nota", "internal": "on"})
    assert ticket.comments.filter(body="Nota", internal=True).exists()
    assert Ticket.objects.filter(follow_up_of=ticket).count() == 2


def test_reopen_only_resolved(franchisee, agent):
    ticket = _ticket_in("closed", franchisee, agent)
    with pytest.raises(services.TicketError):
        services.reopen(ticket=ticket, actor=franchisee)


def test_csat_rating(franchisee, agent, franchisee_client):
    ticket = make_ticket(franchisee)
    assert franchisee_client.post(f"/tickets/{ticket.pk}/rate/", {"rating": "5"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.rating is None  # not resolved yet
    services.claim(ticket=ticket, actor=agent)
    services.resolve(ticket=ticket, actor=agent)
    franchisee_client.post(f"/tickets/{ticket.pk}/rate/", {"rating": "9"})
    ticket.refresh_from_db()
    assert ticket.rating is None
    franchisee_client.post(f"/tickets/{ticket.pk}/rate/", {"rating": "4", "comment": "Bien"})
    ticket.refresh_from_db()
    assert ticket.rating == 4 and ticket.rating_comment == "Bien" and ticket.rated_at
    assert ticket.events.filter(kind="rated", new_value="4").exists()
    assert Notification.objects.filter(recipient=agent, kind="ticket_status", title__contains="4/5").exists()
    with pytest.raises(services.TicketError):
        services.rate(ticket=ticket, actor=agent, rating=5)


def test_merge_moves_comments_and_watchers(franchisee, agent, centro):
    colleague = save_user(username="colega", role="franchisee", franchise=centro, password=PASSWORD)[0]
    survivor = make_ticket(franchisee, subject="Impresora")
    duplicate = make_ticket(colleague, subject="Impresora otra vez")
    services.add_comment(ticket=duplicate, actor=colleague, body="Más detalles")
    services.merge(source=duplicate, target=survivor, actor=agent)
    duplicate.refresh_from_db()
    assert duplicate.status == "closed" and duplicate.merged_into == survivor
    assert survivor.comments.filter(body="Más detalles").exists()
    assert colleague in survivor.watchers.all()
    assert not duplicate.comments.exists()
    with pytest.raises(services.TicketError):
        services.merge(source=duplicate, target=survivor, actor=agent)


def test_merge_refuses_other_franchise(franchisee, other_franchisee, agent):
    a, b = make_ticket(franchisee), make_ticket(other_franchisee)
    with pytest.raises(services.TicketError):
        services.merge(source=a, target=b, actor=agent)
    a.refresh_from_db()
    assert a.status == "new"


def test_bulk_assign_and_status(franchisee, agent, agent2, supervisor_client, agent_client):
    tickets = [make_ticket(franchisee, subject=f"t{i}") for i in range(3)]
    ids = [str(t.pk) for t in tickets]
    response = agent_client.post("/tickets/bulk/", {"tickets": ids, "action": "assign", "assignee": agent2.pk})
    assert response.status_code == 302
    assert Ticket.objects.filter(assignee=agent2).count() == 3
    response = agent_client.post(
        "/tickets/bulk/", {"tickets": ids, "action": "status", "status": "on_hold"}, follow=True
    )
    assert Ticket.objects.filter(status="on_hold").count() == 3
    # reassigning another agent's tickets: refused per ticket for an agent, allowed for a supervisor
    response = agent_client.post(
        "/tickets/bulk/", {"tickets": ids, "action": "assign", "assignee": agent.pk}, follow=True
    )
    assert "solo un supervisor" in response.content.decode()
    supervisor_client.post("/tickets/bulk/", {"tickets": ids, "action": "assign", "assignee": agent.pk})
    assert Ticket.objects.filter(assignee=agent).count() == 3


def test_closed_ticket_takes_no_public_comment(franchisee, agent, franchisee_client):
    """The reply goes to a follow-up ticket (issue 16), never onto the closed one."""
    ticket = _ticket_in("closed", franchisee, agent)
    response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "hola"})
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.status_code == 302 and response["Location"] == f"/tickets/{follow_up.pk}/"
    assert not ticket.comments.exists()
    with pytest.raises(services.TicketError):
        services.add_comment(ticket=ticket, actor=franchisee, body="hola")  # the service itself still refuses


def test_draft_article_button(franchisee, agent, agent_client):
    kb = pytest.importorskip("knowledge_base.services")
    if not hasattr(kb, "draft_article_from_ticket"):
        pytest.skip("knowledge_base.services.draft_article_from_ticket not written yet")
    ticket = _ticket_in("resolved", franchisee, agent)
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f"/tickets/{ticket.pk}/draft-article/" in page
    response = agent_client.post(f"/tickets/{ticket.pk}/draft-article/")
    assert response.status_code == 302
    from knowledge_base.models import Article

    article = Article.objects.get(source_ticket=ticket)
    assert article.status == "draft" and response["Location"]


def test_timeline_labels_follow_the_reader_language(franchisee, agent, franchisee_client):
    ticket = make_ticket(franchisee)
    services.change_status(ticket=ticket, actor=agent, status="pending")
    english = franchisee_client.get(f"/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Pending on franchisee" in english and "History" in english
    spanish = franchisee_client.get(f"/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Pendiente del franquiciado" in spanish and "Historial" in spanish


def test_agent_form_opens_ticket_for_a_franchise(agent_client, centro, franchisee):
    assert agent_client.get("/tickets/new/").status_code == 200
    response = agent_client.post("/tickets/new/", {"subject": "Llamada", "description": "Por teléfono"})
    assert response.status_code == 400 and "franchise" in response.context["form"].errors
    response = agent_client.post(
        "/tickets/new/",
        {"subject": "Llamada", "description": "Por teléfono", "franchise": centro.pk, "requester": franchisee.pk},
    )
    ticket = Ticket.objects.get(subject="Llamada")
    assert response["Location"] == f"/tickets/{ticket.pk}/" and ticket.requester == franchisee


def test_every_public_change_notifies_the_requester(franchisee, agent, centro):
    from tickets.models import Category

    category = Category.objects.create(name="Red", slug="red")
    ticket = make_ticket(franchisee)
    services.claim(ticket=ticket, actor=agent)
    services.change_priority(ticket=ticket, actor=agent, priority="high")
    services.change_category(ticket=ticket, actor=agent, category=category)
    services.add_comment(ticket=ticket, actor=agent, body="Respuesta")
    services.add_comment(ticket=ticket, actor=agent, body="Nota secreta", internal=True)
    titles = list(Notification.objects.filter(recipient=franchisee).order_by("id").values_list("kind", "title"))
    assert [kind for kind, _ in titles] == [
        "ticket_status",  # claimed: Ana atiende tu ticket
        "ticket_status",  # status new → open
        "ticket_status",  # priority
        "ticket_status",  # category
        "ticket_comment",
    ]
    assert "Alta" in titles[2][1] and "Red" in titles[3][1]
    assert not any("secreta" in title for _, title in titles)


def test_opening_a_ticket_marks_its_notifications_read(franchisee, franchisee_client, agent):
    ticket = make_ticket(franchisee)
    other = make_ticket(franchisee, subject="Otro problema con el TPV")
    services.add_comment(ticket=ticket, actor=agent, body="Lo miramos ahora.", internal=False)
    services.add_comment(ticket=other, actor=agent, body="Y este también.", internal=False)

    def unread_targets() -> set[str]:
        unread = Notification.objects.filter(recipient=franchisee, read_at__isnull=True)
        return set(unread.values_list("target_id", flat=True))

    assert unread_targets() == {str(ticket.pk), str(other.pk)}
    assert franchisee_client.get(f"/tickets/{ticket.pk}/").status_code == 200
    assert unread_targets() == {str(other.pk)}
