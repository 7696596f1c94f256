"""The admin obeys the same rules as the pages (docs/SECURITY.md "Admin").

Each test drives the real /admin/ pages with the test client, as a plain agent would: it
reassigns another agent's ticket, adds a watcher from another franchise, moves a ticket to
another franchise, deletes tickets, writes notifications with outside links, edits chats,
votes and team configuration. Before the fix each of these went straight to the database.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.services import save_user
from chat import services as chat_services
from chat.models import Conversation
from knowledge_base.models import ArticleFeedback
from notifications.models import Notification
from notifications.selectors import notification_frame
from notifications.services import notify
from notifications.tasks import build_email
from support_portal.links import safe_link
from tests.conftest import PASSWORD
from tests.tickets_factories import make_ticket
from tickets import services
from tickets.models import Event, SlaPolicy, Ticket

pytestmark = pytest.mark.django_db

BAD_LINKS = [
    "javascript:alert(1)",
    " javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "https://evil.example/phish",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/tickets/\x00/",
    "data:text/html,<script>alert(1)</script>",
]


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def _form_data(client: Client, url: str, **changes) -> dict:
    """What the browser would post back from the change page, with `changes` applied."""
    response = client.get(url)
    assert response.status_code == 200
    data: dict = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for subform in formset.forms:
            for name in subform.fields:
                value = subform[name].value()
                if value is not None:
                    data[subform.add_prefix(name)] = value
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def ticket_of_agent2(franchisee, agent2) -> Ticket:
    ticket = make_ticket(franchisee)
    return services.claim(ticket=ticket, actor=agent2)


# --- tickets ----------------------------------------------------------------------------------


def test_agent_cannot_reassign_another_agents_ticket_in_the_admin(agent, agent2, ticket_of_agent2):
    client = _login(agent)
    url = _change_url(ticket_of_agent2)
    response = client.post(url, _form_data(client, url, assignee=agent.pk))
    assert response.status_code == 200  # the form again, with the rule as its error
    assert "solo un supervisor puede reasignarlo" in response.content.decode()
    ticket_of_agent2.refresh_from_db()
    assert ticket_of_agent2.assignee == agent2
    assert not Event.objects.filter(ticket=ticket_of_agent2, new_value=agent.display_name).exists()


def test_supervisor_reassigns_in_the_admin_with_event_and_notification(supervisor, agent, agent2, ticket_of_agent2):
    client = _login(supervisor)
    url = _change_url(ticket_of_agent2)
    response = client.post(url, _form_data(client, url, assignee=agent.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket_of_agent2.refresh_from_db()
    assert ticket_of_agent2.assignee == agent
    event = Event.objects.filter(ticket=ticket_of_agent2, kind=Event.Kind.ASSIGNED).last()
    assert (event.actor, event.old_value, event.new_value) == (supervisor, agent2.display_name, agent.display_name)
    assert Notification.objects.filter(recipient=agent, kind="ticket_assigned", target_id=str(ticket_of_agent2.pk))


def test_admin_priority_change_goes_through_the_service(agent, franchisee):
    ticket = make_ticket(franchisee)
    client = _login(agent)
    url = _change_url(ticket)
    assert client.post(url, _form_data(client, url, priority="urgent")).status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.PRIORITY, actor=agent, new_value="urgent").exists()
    assert Notification.objects.filter(recipient=franchisee, kind="ticket_status", target_id=str(ticket.pk))


def test_admin_refuses_a_watcher_from_another_franchise(agent, franchisee, other_franchisee):
    ticket = make_ticket(franchisee)
    client = _login(agent)
    url = _change_url(ticket)
    watchers = [franchisee.pk, other_franchisee.pk]
    response = client.post(url, _form_data(client, url, watchers=watchers))
    assert response.status_code == 200
    assert other_franchisee not in ticket.watchers.all()
    # and so the other franchise's user is told nothing of this ticket's comments
    services.add_comment(ticket=ticket, actor=agent, body="Respuesta pública")
    assert not Notification.objects.filter(recipient=other_franchisee).exists()


def test_admin_adds_a_colleague_as_watcher_with_a_timeline_event(agent, agent2, franchisee):
    ticket = make_ticket(franchisee)
    client = _login(agent)
    url = _change_url(ticket)
    response = client.post(url, _form_data(client, url, watchers=[franchisee.pk, agent2.pk]))
    assert response.status_code == 302
    assert set(ticket.watchers.all()) == {franchisee, agent2}
    event = Event.objects.get(ticket=ticket, kind=Event.Kind.WATCHERS)
    assert (event.actor, event.new_value, event.internal) == (agent, agent2.display_name, True)


def test_watcher_invariant_holds_outside_the_admin_too(franchisee, other_franchisee, agent):
    ticket = make_ticket(franchisee)
    # (each in its own savepoint: the refusal aborts the transaction it happens in)
    with pytest.raises(ValidationError), transaction.atomic():
        ticket.watchers.add(other_franchisee)
    with pytest.raises(ValidationError), transaction.atomic():
        other_franchisee.watched_tickets.add(ticket)
    with pytest.raises(ValidationError):
        services.set_watchers(ticket=ticket, actor=agent, watchers=[other_franchisee])
    ticket.watchers.add(agent)  # support staff may follow any ticket
    assert other_franchisee not in ticket.watchers.all()


def test_admin_cannot_move_a_ticket_to_another_franchise(agent, franchisee, norte):
    ticket = make_ticket(franchisee)
    client = _login(agent)
    url = _change_url(ticket)
    client.post(url, _form_data(client, url, franchise=norte.pk, requester=""))
    ticket.refresh_from_db()
    assert (ticket.franchise_id, ticket.requester) == (franchisee.franchise_id, franchisee)
    assert franchisee.requested_tickets.filter(pk=ticket.pk).exists()
    # the model refuses it from any other entry point as well
    ticket.franchise = norte
    with pytest.raises(ValidationError), transaction.atomic():
        ticket.save()


def test_requester_must_belong_to_the_tickets_franchise(franchisee, other_franchisee):
    ticket = make_ticket(franchisee)
    ticket.requester = other_franchisee
    with pytest.raises(ValidationError):
        ticket.save(update_fields=["requester"])


def test_agents_cannot_delete_tickets_in_the_admin(agent, franchisee):
    ticket = make_ticket(franchisee)
    client = _login(agent)
    assert client.get(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code == 403
    assert client.post(reverse("admin:tickets_ticket_delete", args=[ticket.pk]), {"post": "yes"}).status_code == 403
    changelist = reverse("admin:tickets_ticket_changelist")
    assert "delete_selected" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "delete_selected", "_selected_action": [ticket.pk], "post": "yes"})
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_supervisor_may_delete_a_ticket(supervisor, franchisee):
    ticket = make_ticket(franchisee)
    client = _login(supervisor)
    response = client.post(reverse("admin:tickets_ticket_delete", args=[ticket.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Ticket.objects.filter(pk=ticket.pk).exists()


def test_team_configuration_is_for_supervisors(agent, supervisor):
    policy = SlaPolicy.objects.create(priority="low", first_response_minutes=60, resolution_minutes=600)
    url = reverse("admin:tickets_slapolicy_change", args=[policy.pk])
    data = {"priority": "low", "first_response_minutes": 1, "resolution_minutes": 2, "at_risk_percent": 50}
    assert _login(agent).post(url, data).status_code == 403
    policy.refresh_from_db()
    assert policy.first_response_minutes == 60
    assert _login(agent).get(reverse("admin:tickets_category_add")).status_code == 403
    assert _login(supervisor).post(url, data).status_code == 302


# --- notifications and links ------------------------------------------------------------------


@pytest.mark.parametrize("link", BAD_LINKS)
def test_safe_link_keeps_only_paths_of_the_site(link):
    assert safe_link(link) == ""


def test_safe_link_keeps_site_paths():
    assert safe_link("/tickets/4/") == "/tickets/4/"
    assert safe_link("/kb/buscar/?q=a#x") == "/kb/buscar/?q=a#x"


def test_agents_cannot_write_notifications_in_the_admin(agent, supervisor, franchisee):
    client = _login(agent)
    add = reverse("admin:notifications_notification_add")
    data = {"recipient": franchisee.pk, "kind": "ticket_status", "title": "Pulsa", "url": "javascript:alert(1)"}
    assert client.post(add, data).status_code == 403
    assert _login(supervisor).post(add, data).status_code == 403  # notifications come from notify()
    note = notify(recipient=franchisee, kind="ticket_status", title="Hola", url="/tickets/1/")
    change = reverse("admin:notifications_notification_change", args=[note.pk])
    assert client.post(change, {**data, "url": "https://evil.example/"}).status_code == 403
    note.refresh_from_db()
    assert note.url == "/tickets/1/"
    assert not Notification.objects.filter(url__icontains="javascript").exists()


@pytest.mark.parametrize("link", BAD_LINKS[:5])
def test_a_stored_outside_link_is_never_rendered(franchisee, link, settings):
    settings.SITE_URL = "https://portal.example"
    note = notify(recipient=franchisee, kind="ticket_status", title="Aviso", url="/tickets/1/")
    Notification.objects.filter(pk=note.pk).update(url=link)  # written around every check
    note.refresh_from_db()
    page = _login(franchisee).get(reverse("notifications:list")).content.decode()
    assert "Aviso" in page
    assert "evil.example" not in page and "javascript:" not in page.lower()
    assert notification_frame(note, 1)["url"] == ""
    email = build_email(note)
    assert "evil.example" not in email.body and "javascript" not in email.body.lower()
    assert "https://portal.example/" in email.body
    note.save()  # any save keeps only a link of the site
    note.refresh_from_db()
    assert note.url == ""
    assert not mail.outbox


# --- chats, votes, users ----------------------------------------------------------------------


def test_conversations_are_read_only_in_the_admin(agent, agent2, franchisee, other_franchisee):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="TPV")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent2)
    client = _login(agent)
    url = reverse("admin:chat_conversation_change", args=[conversation.pk])
    assert client.get(url).status_code == 200  # agents can read it
    response = client.post(url, {"topic": "TPV", "franchise": other_franchisee.franchise_id, "agent": agent.pk})
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert (conversation.agent, conversation.franchise_id) == (agent2, franchisee.franchise_id)
    assert client.post(reverse("admin:chat_conversation_delete", args=[conversation.pk])).status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_article_votes_are_read_only_in_the_admin(agent, franchisee):
    from knowledge_base import services as kb_services

    article = kb_services.create_article(actor=agent, title="Reiniciar el TPV", body="Pulsa.", status="published")
    vote = ArticleFeedback.objects.create(article=article, user=franchisee, helpful=True)
    client = _login(agent)
    delete = reverse("admin:knowledge_base_articlefeedback_delete", args=[vote.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ArticleFeedback.objects.filter(pk=vote.pk).exists()


def test_agents_cannot_edit_users_and_roles_follow_the_role(agent, supervisor, franchisee):
    url = reverse("admin:accounts_user_change", args=[franchisee.pk])
    assert _login(agent).post(url, {"username": franchisee.username, "role": "supervisor"}).status_code == 403
    franchisee.refresh_from_db()
    assert (franchisee.role, franchisee.is_staff) == ("franchisee", False)
    promoted = save_user(username="nuevo", role="agent", password=PASSWORD)[0]
    client = _login(supervisor)
    user_url = reverse("admin:accounts_user_change", args=[promoted.pk])
    data = _user_form(client, user_url, role="supervisor")
    response = client.post(user_url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    promoted.refresh_from_db()
    assert (promoted.role, promoted.is_staff, promoted.is_superuser) == ("supervisor", True, True)


def _user_form(client: Client, url: str, **changes) -> dict:
    response = client.get(url)
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(changes)
    return data
