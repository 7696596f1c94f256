"""The JSON API's followers (CC) and ticket links: the ticket page's rules through the same
services, another franchise's ticket a 404, writes refused by role a 403, bad choices a 400."""

from __future__ import annotations

import pytest

from accounts.services import save_user
from notifications.models import Notification
from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Event, TicketLink

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def colleague(centro):
    """Another franchisee of the requester's franchise (Centro)."""
    return save_user(username="colega", role="franchisee", franchise=centro, first_name="Carla")[0]


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee, subject="La TPV no arranca")


def _followers(client, ticket) -> list[str]:
    response = client.get(f"/api/v1/tickets/{ticket.pk}/followers/")
    assert response.status_code == 200
    return sorted(row["name"] for row in response.json()["results"])


# --- followers --------------------------------------------------------------------------


def test_requester_adds_a_colleague_who_is_told_and_listed(franchisee, colleague, ticket):
    api = token_client(franchisee)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/followers/", {"user": colleague.pk}, format="json")
    assert response.status_code == 201
    assert response.json() == {"id": colleague.pk, "name": colleague.display_name, "role": "franchisee"}
    assert colleague.display_name in _followers(api, ticket)
    assert colleague.display_name in _followers(token_client(colleague), ticket)
    event = Event.objects.get(ticket=ticket, kind=Event.Kind.WATCHERS)
    assert (event.new_value, event.via, event.internal) == (colleague.display_name, "api", False)
    assert Notification.objects.filter(recipient=colleague).exists()
    again = api.post(f"/api/v1/tickets/{ticket.pk}/followers/", {"user": colleague.pk}, format="json")
    assert again.status_code == 201  # already following: nothing new
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.WATCHERS).count() == 1


def test_requester_cannot_add_staff_or_another_franchise(franchisee, other_franchisee, agent, ticket):
    api = token_client(franchisee)
    for user in (agent, other_franchisee):
        response = api.post(f"/api/v1/tickets/{ticket.pk}/followers/", {"user": user.pk}, format="json")
        assert response.status_code == 400
        assert response.json() == {"user": ["Esa persona no puede seguir este ticket."]}
    for bad in ({"user": 10**9}, {"user": "x"}, {}):
        assert api.post(f"/api/v1/tickets/{ticket.pk}/followers/", bad, format="json").status_code == 400
    assert list(ticket.watchers.all()) == [franchisee]  # the requester follows their own ticket


def test_only_the_requester_and_agents_add_followers(colleague, franchisee, ticket):
    response = token_client(colleague).post(
        f"/api/v1/tickets/{ticket.pk}/followers/", {"user": colleague.pk}, format="json"
    )
    assert response.status_code == 403
    assert list(ticket.watchers.all()) == [franchisee]


def test_agents_add_colleagues_and_other_agents_but_never_another_franchise(
    agent, agent2, franchisee, colleague, other_franchisee, ticket
):
    api = token_client(agent)
    for user in (colleague, agent2):
        assert api.post(f"/api/v1/tickets/{ticket.pk}/followers/", {"user": user.pk}, format="json").status_code == 201
    refused = api.post(f"/api/v1/tickets/{ticket.pk}/followers/", {"user": other_franchisee.pk}, format="json")
    assert refused.status_code == 400
    assert _followers(api, ticket) == sorted([franchisee.display_name, colleague.display_name, agent2.display_name])
    staff_event = Event.objects.get(ticket=ticket, kind=Event.Kind.WATCHERS, new_value=agent2.display_name)
    assert staff_event.internal  # a franchisee's timeline does not list who of the staff follows


def test_removing_followers_follows_the_page_rules(franchisee, colleague, agent, agent2, ticket):
    ticket_services.add_follower(ticket=ticket, actor=agent, follower=colleague)
    ticket_services.add_follower(ticket=ticket, actor=agent, follower=agent2)
    colleague_api = token_client(colleague)
    # a colleague who is not the requester removes only themselves
    assert colleague_api.delete(f"/api/v1/tickets/{ticket.pk}/followers/{agent2.pk}/").status_code == 403
    assert colleague_api.delete(f"/api/v1/tickets/{ticket.pk}/followers/{colleague.pk}/").status_code == 204
    assert colleague_api.delete(f"/api/v1/tickets/{ticket.pk}/followers/{colleague.pk}/").status_code == 404
    # the requester removes anyone
    assert token_client(franchisee).delete(f"/api/v1/tickets/{ticket.pk}/followers/{agent2.pk}/").status_code == 204
    assert list(ticket.watchers.all()) == [franchisee]
    removed = Event.objects.filter(ticket=ticket, kind=Event.Kind.WATCHERS, old_value__gt="")
    assert sorted(removed.values_list("old_value", flat=True)) == sorted([colleague.display_name, agent2.display_name])


def test_another_franchise_ticket_is_a_404_for_followers(other_franchisee, franchisee, colleague, ticket):
    ticket_services.add_follower(ticket=ticket, actor=franchisee, follower=colleague)
    api = token_client(other_franchisee)
    base = f"/api/v1/tickets/{ticket.pk}/followers/"
    assert api.get(base).status_code == 404
    assert api.post(base, {"user": other_franchisee.pk}, format="json").status_code == 404
    assert api.delete(f"{base}{colleague.pk}/").status_code == 404
    assert set(ticket.watchers.all()) == {franchisee, colleague}


# --- links ------------------------------------------------------------------------------


def _links(client, ticket) -> list[tuple[str, int]]:
    response = client.get(f"/api/v1/tickets/{ticket.pk}/links/")
    assert response.status_code == 200
    return sorted((row["relation"], row["ticket"]["id"]) for row in response.json()["results"])


def test_agent_links_every_kind_shown_on_both_sides(agent, franchisee):
    a, b, c, d = (make_ticket(franchisee, subject=s) for s in "ABCD")
    api = token_client(agent)
    for relation, other in (("duplicates", b), ("blocked_by", c), ("related", d)):
        response = api.post(f"/api/v1/tickets/{a.pk}/links/", {"relation": relation, "other": other.pk}, format="json")
        assert response.status_code == 201, response.json()
        row = response.json()
        assert (row["relation"], row["ticket"]["id"], row["ticket"]["number"]) == (relation, other.pk, other.number)
    assert _links(api, a) == sorted([("duplicates", b.pk), ("blocked_by", c.pk), ("related", d.pk)])
    assert _links(api, b) == [("duplicated_by", a.pk)]
    assert _links(api, c) == [("blocks", a.pk)]
    assert _links(api, d) == [("related", a.pk)]
    assert TicketLink.objects.filter(source=c, target=a, kind="blocks").exists()  # stored as the page would
    assert token_client(franchisee).get(f"/api/v1/tickets/{c.pk}/links/").json()["results"][0]["label"] == ("Bloquea a")
    assert Event.objects.filter(ticket=a, kind=Event.Kind.LINKED, via="api").count() == 3


def test_refused_links_are_400_and_store_nothing(agent, franchisee):
    a, b = make_ticket(franchisee, subject="A"), make_ticket(franchisee, subject="B")
    api = token_client(agent)
    url = f"/api/v1/tickets/{a.pk}/links/"
    assert api.post(url, {"relation": "blocks", "other": b.pk}, format="json").status_code == 201
    for body in (
        {"relation": "blocks", "other": a.pk},  # itself
        {"relation": "blocks", "other": b.pk},  # twice
        {"relation": "blocked_by", "other": b.pk},  # circular
        {"relation": "blocks", "other": 10**9},  # unknown
        {"relation": "parent_of", "other": b.pk},
        {"other": b.pk},
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
    assert TicketLink.objects.count() == 1


def test_franchisees_read_links_but_never_write_them(agent, franchisee, other_franchisee):
    mine, colleague_ticket = make_ticket(franchisee, subject="Mío"), make_ticket(franchisee, subject="Otro")
    theirs = make_ticket(other_franchisee, subject="Suyo")
    ticket_services.link_tickets(ticket=mine, actor=agent, kind="related", other=colleague_ticket)
    cross = ticket_services.link_tickets(ticket=mine, actor=agent, kind="duplicates", other=theirs)
    api = token_client(franchisee)
    assert _links(api, mine) == [("related", colleague_ticket.pk)]  # the link to Norte's ticket is not shown
    assert _links(token_client(agent), mine) == sorted([("related", colleague_ticket.pk), ("duplicates", theirs.pk)])
    url = f"/api/v1/tickets/{mine.pk}/links/"
    assert api.post(url, {"relation": "related", "other": theirs.pk}, format="json").status_code == 403
    assert api.delete(f"{url}{cross.pk}/").status_code == 403
    assert TicketLink.objects.count() == 2


def test_another_franchise_ticket_is_a_404_for_links(agent, franchisee, other_franchisee):
    mine, other = make_ticket(franchisee, subject="Mío"), make_ticket(franchisee, subject="Otro")
    link = ticket_services.link_tickets(ticket=mine, actor=agent, kind="blocks", other=other)
    api = token_client(other_franchisee)
    url = f"/api/v1/tickets/{mine.pk}/links/"
    assert api.get(url).status_code == 404
    assert api.post(url, {"relation": "related", "other": other.pk}, format="json").status_code == 404
    assert api.delete(f"{url}{link.pk}/").status_code == 404
    assert TicketLink.objects.count() == 1


def test_agent_removes_a_link_from_either_side(agent, franchisee):
    a, b, c = (make_ticket(franchisee, subject=s) for s in "ABC")
    link = ticket_services.link_tickets(ticket=a, actor=agent, kind="blocks", other=b)
    api = token_client(agent)
    assert api.delete(f"/api/v1/tickets/{c.pk}/links/{link.pk}/").status_code == 404  # not a link of C
    assert api.delete(f"/api/v1/tickets/{b.pk}/links/{link.pk}/").status_code == 204
    assert api.delete(f"/api/v1/tickets/{b.pk}/links/{link.pk}/").status_code == 404
    assert not TicketLink.objects.exists()
    assert Event.objects.filter(kind=Event.Kind.UNLINKED, via="api", ticket__in=[a, b]).count() == 2
