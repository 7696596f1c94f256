"""Followers / CC, linked tickets and time spent per reply (issue 16)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.services import save_user
from notifications.models import Notification
from tests.conftest import PASSWORD
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import Event, Status, TicketLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(centro):
    return save_user(username="colega", role="franchisee", franchise=centro, password=PASSWORD, first_name="Carla")[0]


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee)


# --- followers ------------------------------------------------------------------------------


def test_requester_adds_a_colleague_who_then_gets_public_replies_not_notes(franchisee_client, ticket, colleague, agent):
    response = franchisee_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": colleague.pk})
    assert response.status_code == 302
    assert ticket.watchers.filter(pk=colleague.pk).exists()
    event = Event.objects.get(ticket=ticket, kind=Event.Kind.WATCHERS)
    assert (event.actor, event.new_value, event.internal, event.via) == (ticket.requester, "Carla", False, "web")
    assert Notification.objects.filter(recipient=colleague, title__contains="seguidor").exists()

    services.add_comment(ticket=ticket, actor=agent, body="Nota privada", internal=True)
    assert not Notification.objects.filter(recipient=colleague, kind="ticket_comment").exists()
    services.add_comment(ticket=ticket, actor=agent, body="Respuesta pública")
    assert Notification.objects.filter(recipient=colleague, kind="ticket_comment").count() == 1
    services.change_status(ticket=ticket, actor=agent, status=Status.PENDING)
    assert Notification.objects.filter(recipient=colleague, kind="ticket_status").exists()
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Carla" in page and "Quitar a Carla" in page


def test_another_franchise_user_is_a_404_on_the_page_and_a_validation_error_in_the_service(
    franchisee_client, agent_client, ticket, other_franchisee, franchisee, agent
):
    assert (
        franchisee_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": other_franchisee.pk}).status_code == 404
    )
    assert agent_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": other_franchisee.pk}).status_code == 404
    with pytest.raises(ValidationError):
        services.add_follower(ticket=ticket, actor=agent, follower=other_franchisee)
    with pytest.raises(ValidationError), transaction.atomic():  # the m2m guard, whatever the caller
        ticket.watchers.add(other_franchisee)
    assert not ticket.watchers.filter(pk=other_franchisee.pk).exists()
    assert not Event.objects.filter(ticket=ticket, kind=Event.Kind.WATCHERS).exists()


def test_franchisee_cannot_add_agents_but_agents_can(franchisee_client, agent_client, ticket, agent2, franchisee):
    assert franchisee_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": agent2.pk}).status_code == 404
    assert agent_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": agent2.pk}).status_code == 302
    event = Event.objects.get(ticket=ticket, kind=Event.Kind.WATCHERS)
    assert event.internal  # staff following is agents' business
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Bea" not in page.split("Historial")[1].split("Responder")[0]  # not in their timeline


def test_a_colleague_who_is_not_the_requester_cannot_add_followers(centro, ticket, colleague, client):
    third = save_user(username="tercero", role="franchisee", franchise=centro, password=PASSWORD)[0]
    client.force_login(colleague)
    assert client.post(f"/tickets/{ticket.pk}/followers/", {"follower": third.pk}).status_code == 404


def test_followers_are_removed_by_requester_and_agents_and_by_themselves(franchisee, agent, ticket, colleague, client):
    services.add_follower(ticket=ticket, actor=franchisee, follower=colleague)
    client.force_login(colleague)
    assert client.post(f"/tickets/{ticket.pk}/followers/{franchisee.pk}/remove/").status_code == 404
    assert client.post(f"/tickets/{ticket.pk}/followers/{colleague.pk}/remove/").status_code == 302
    assert not ticket.watchers.filter(pk=colleague.pk).exists()
    services.add_follower(ticket=ticket, actor=agent, follower=colleague)
    services.remove_follower(ticket=ticket, actor=agent, follower=colleague)
    assert not ticket.watchers.filter(pk=colleague.pk).exists()
    removed = Event.objects.filter(ticket=ticket, kind=Event.Kind.WATCHERS, old_value="Carla")
    assert removed.count() == 2
    services.add_comment(ticket=ticket, actor=agent, body="Respuesta")
    assert not Notification.objects.filter(recipient=colleague, kind="ticket_comment").exists()


def test_other_franchise_sees_no_follower_endpoint(other_franchisee_client, ticket, colleague):
    assert (
        other_franchisee_client.post(f"/tickets/{ticket.pk}/followers/", {"follower": colleague.pk}).status_code == 404
    )


# --- links ------------------------------------------------------------------------------------


def test_links_are_shown_on_both_sides_with_their_direction(agent, agent_client, franchisee):
    a, b = make_ticket(franchisee, "Impresora"), make_ticket(franchisee, "Datáfono")
    response = agent_client.post(f"/tickets/{a.pk}/links/", {"kind": "blocks", "other": b.number})
    assert response.status_code == 302
    link = TicketLink.objects.get()
    assert (link.source, link.target, link.kind) == (a, b, "blocks")
    assert (
        f'Bloquea a <a href="/tickets/{b.pk}/">{b.number}</a>' in agent_client.get(f"/tickets/{a.pk}/").content.decode()
    )
    assert (
        f'Bloqueado por <a href="/tickets/{a.pk}/">{a.number}</a>'
        in agent_client.get(f"/tickets/{b.pk}/").content.decode()
    )
    assert Event.objects.filter(ticket=a, kind="linked", new_value=f"blocks:{b.number}").exists()
    assert Event.objects.filter(ticket=b, kind="linked", new_value=f"~blocks:{a.number}").exists()
    # the reverse of the same kind would be circular; a second identical link is refused
    with pytest.raises(services.TicketError):
        services.link_tickets(ticket=b, actor=agent, kind="blocks", other=a)
    with pytest.raises(services.TicketError):
        services.link_tickets(ticket=a, actor=agent, kind="blocks", other=b)
    with pytest.raises(services.TicketError):
        services.link_tickets(ticket=a, actor=agent, kind="related", other=a)

    assert agent_client.post(f"/tickets/{b.pk}/links/{link.pk}/remove/").status_code == 302
    assert not TicketLink.objects.exists()
    assert Event.objects.filter(ticket=a, kind="unlinked").exists()


def test_the_page_links_from_either_side(agent, agent_client, franchisee):
    """The form offers every relation read from this ticket: "Bloqueado por" / "Duplicado por" too."""
    a, b, c = make_ticket(franchisee, "Impresora"), make_ticket(franchisee, "Datáfono"), make_ticket(franchisee, "Red")
    page = agent_client.get(f"/tickets/{a.pk}/").content.decode()
    assert '<option value="blocked_by">Bloqueado por</option>' in page
    assert '<option value="duplicated_by">Duplicado por</option>' in page
    agent_client.post(f"/tickets/{a.pk}/links/", {"kind": "blocked_by", "other": b.number})
    agent_client.post(f"/tickets/{a.pk}/links/", {"kind": "duplicated_by", "other": c.number})
    assert TicketLink.objects.filter(source=b, target=a, kind="blocks").exists()
    assert TicketLink.objects.filter(source=c, target=a, kind="duplicates").exists()
    page = agent_client.get(f"/tickets/{a.pk}/").content.decode()
    assert f'Bloqueado por <a href="/tickets/{b.pk}/">{b.number}</a>' in page
    assert f'Duplicado por <a href="/tickets/{c.pk}/">{c.number}</a>' in page
    agent_client.post(f"/tickets/{a.pk}/links/", {"kind": "parent_of", "other": b.number})
    assert TicketLink.objects.count() == 2


def test_related_is_stored_once_whichever_side_adds_it(agent, franchisee):
    a, b = make_ticket(franchisee, "Uno"), make_ticket(franchisee, "Dos")
    services.link_tickets(ticket=b, actor=agent, kind="related", other=a)
    with pytest.raises(services.TicketError):
        services.link_tickets(ticket=a, actor=agent, kind="related", other=b)
    assert TicketLink.objects.get().source == a


def test_a_franchisee_sees_only_links_to_tickets_they_may_see(agent, franchisee, other_franchisee, franchisee_client):
    mine, same, theirs = (
        make_ticket(franchisee, "Mío"),
        make_ticket(franchisee, "Otro mío"),
        make_ticket(other_franchisee, "Ajeno secreto"),
    )
    services.link_tickets(ticket=mine, actor=agent, kind="related", other=same)
    services.link_tickets(ticket=mine, actor=agent, kind="duplicates", other=theirs)
    page = franchisee_client.get(f"/tickets/{mine.pk}/").content.decode()
    assert same.number in page
    assert theirs.number not in page and "Ajeno secreto" not in page  # nor in the timeline: the event is internal
    assert Event.objects.get(ticket=mine, kind="linked", new_value__startswith="duplicates").internal
    # agent actions are agents' only, and a link to an invisible ticket is a 404
    assert (
        franchisee_client.post(f"/tickets/{mine.pk}/links/", {"kind": "related", "other": same.number}).status_code
        == 404
    )
    cross = TicketLink.objects.get(kind="duplicates")
    assert franchisee_client.post(f"/tickets/{mine.pk}/links/{cross.pk}/remove/").status_code == 404


def test_linking_to_an_unknown_number_is_a_404(agent_client, franchisee):
    ticket = make_ticket(franchisee)
    assert (
        agent_client.post(f"/tickets/{ticket.pk}/links/", {"kind": "related", "other": "T-999999"}).status_code == 404
    )
    response = agent_client.post(f"/tickets/{ticket.pk}/links/", {"kind": "bogus", "other": ticket.number}, follow=True)
    assert not TicketLink.objects.exists()
    assert "vincula" in response.content.decode()


# --- time spent ----------------------------------------------------------------------------------


def test_time_spent_is_recorded_per_reply_and_summed_on_the_ticket(
    agent, agent2, agent_client, franchisee_client, ticket
):
    response = agent_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Revisado", "time_spent_minutes": "25"})
    assert response.status_code == 302
    services.add_comment(ticket=ticket, actor=agent2, body="Nota", internal=True, time_spent_minutes=70)
    ticket.refresh_from_db()
    assert ticket.time_spent_minutes == 95
    assert [c.time_spent_minutes for c in ticket.comments.order_by("id")] == [25, 70]
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "1 h 35 min" in page and "Bea: 1 h 10 min" in page and "Ana: 25 min" in page
    assert "Tiempo dedicado" not in franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()


@pytest.mark.parametrize("value", ["-5", "100000", "abc"])
def test_bad_time_spent_is_refused_and_nothing_is_stored(agent_client, ticket, value):
    response = agent_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Hola", "time_spent_minutes": value})
    assert response.status_code == 400
    assert not ticket.comments.exists()


def test_franchisees_record_no_time(franchisee, ticket):
    with pytest.raises(ValidationError):
        services.add_comment(ticket=ticket, actor=franchisee, body="Hola", time_spent_minutes=10)
    assert services.add_comment(ticket=ticket, actor=franchisee, body="Hola").time_spent_minutes is None


def test_merge_carries_the_time_spent(agent, franchisee):
    a, b = make_ticket(franchisee, "Uno"), make_ticket(franchisee, "Dos")
    services.add_comment(ticket=a, actor=agent, body="x", time_spent_minutes=30)
    services.add_comment(ticket=b, actor=agent, body="y", time_spent_minutes=15)
    services.merge(source=a, target=b, actor=agent)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.time_spent_minutes, b.time_spent_minutes) == (0, 45)


def test_api_comment_records_time_spent(agent, ticket):
    from tests.api_helpers import token_client

    api = token_client(agent)
    response = api.post(
        f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "Hecho", "time_spent_minutes": 12}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["time_spent_minutes"] == 12
    ticket.refresh_from_db()
    assert ticket.time_spent_minutes == 12
    assert Event.objects.get(ticket=ticket, kind="commented").via == "api"


def test_api_hides_recorded_minutes_from_franchisees(agent, franchisee, ticket):
    from tests.api_helpers import token_client

    services.add_comment(ticket=ticket, actor=agent, body="Hecho", time_spent_minutes=12)
    url = f"/api/v1/tickets/{ticket.pk}/comments/"
    as_agent = token_client(agent).get(url).json()
    as_franchisee = token_client(franchisee).get(url).json()
    rows = as_agent.get("results", as_agent)
    assert [c["time_spent_minutes"] for c in rows] == [12]
    rows = as_franchisee.get("results", as_franchisee)
    assert [c["time_spent_minutes"] for c in rows] == [None]
