"""Chat pages and forms: start, accept (409), transfer, close, resolve, rate, to-ticket, queue panel."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from chat import presence, services
from chat.models import Conversation, Message
from notifications.models import Notification


@pytest.fixture
def conversation(franchisee) -> Conversation:
    return services.start_conversation(franchisee=franchisee, topic="La impresora no imprime")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_franchisee_starts_a_chat_and_lands_on_it(franchisee_client, franchisee):
    response = franchisee_client.post("/chat/", {"topic": "No puedo cobrar con tarjeta"})
    conversation = Conversation.objects.get(franchisee=franchisee)
    assert response.status_code == 302
    assert response["Location"] == f"/chat/{conversation.pk}/"
    assert conversation.status == "waiting"
    assert conversation.franchise_id == franchisee.franchise_id
    page = franchisee_client.get(response["Location"])
    assert "No puedo cobrar con tarjeta" in page.content.decode()


def test_start_form_shows_kb_suggestions_region_and_errors(franchisee_client):
    page = franchisee_client.get("/chat/").content.decode()
    assert "data-kb-suggest" in page
    assert 'data-kb-results="#kb-suggestions"' in page
    assert "knowledge_base/suggest.js" in page
    assert "Activos de otros agentes" not in page  # agents' sections are not shown to franchisees
    response = franchisee_client.post("/chat/", {"topic": ""})
    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_no_agent_online_offers_a_ticket_with_the_topic(franchisee_client, conversation, agent):
    index = franchisee_client.get("/chat/").content.decode()
    assert 'id="no-agents"' in index
    assert 'href="/tickets/new/"' in index
    page = franchisee_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "/tickets/new/?subject=La+impresora+no+imprime" in page
    presence.agent_connected(agent.pk)
    assert 'id="no-agents"' not in franchisee_client.get("/chat/").content.decode()
    presence.agent_disconnected(agent.pk)
    assert 'id="no-agents"' in franchisee_client.get("/chat/").content.decode()


def test_agent_cannot_start_and_other_franchise_gets_404(agent_client, other_franchisee_client, conversation):
    agent_client.post("/chat/", {"topic": "x"})
    assert Conversation.objects.count() == 1
    assert other_franchisee_client.get(f"/chat/{conversation.pk}/").status_code == 404
    assert other_franchisee_client.post(f"/chat/{conversation.pk}/close/").status_code == 404
    assert other_franchisee_client.post(f"/chat/{conversation.pk}/ticket/").status_code == 404
    assert Conversation.objects.get().status == "waiting"


def test_accept_then_second_agent_gets_409_naming_the_taker(conversation, agent, agent2, franchisee):
    first = client_for(agent).post(f"/chat/{conversation.pk}/accept/")
    assert first.status_code == 302
    second = client_for(agent2).post(f"/chat/{conversation.pk}/accept/")
    assert second.status_code == 409
    assert agent.display_name in second.content.decode()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent_id) == ("active", agent.pk)
    assert Notification.objects.filter(recipient=franchisee, kind="chat_accepted").count() == 1
    assert Message.objects.filter(conversation=conversation, kind="system", body__contains=agent.display_name).exists()


def test_franchisee_cannot_accept(franchisee_client, conversation):
    assert franchisee_client.post(f"/chat/{conversation.pk}/accept/").status_code == 404


def test_queue_frames_are_pushed_to_agents(franchisee, agent):
    with mock.patch("chat.services.push_to_agents") as push:
        conversation = services.start_conversation(franchisee=franchisee, topic="Wifi")
        services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    frames = [call.args[0] for call in push.call_args_list]
    assert [(f["type"], f["event"], f["conversation"]["status"], f["waiting"]) for f in frames] == [
        ("queue", "added", "waiting", 1),
        ("queue", "taken", "active", 0),
    ]
    assert frames[1]["conversation"]["agent"]["id"] == agent.pk


def test_transfer_close_resolve_and_rate(conversation, agent, agent2, franchisee):
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    response = client_for(agent).post(f"/chat/{conversation.pk}/transfer/", {"agent": agent2.pk})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.agent_id == agent2.pk
    assert Notification.objects.filter(recipient=agent2).exists()
    # the old agent may no longer resolve-transfer; the new one resolves
    client_for(agent2).post(f"/chat/{conversation.pk}/resolve/")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert conversation.resolved_in_chat
    fran = client_for(franchisee)
    fran.post(f"/chat/{conversation.pk}/rate/", {"rating": "4", "comment": "Rápido"})
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "Rápido")
    fran.post(f"/chat/{conversation.pk}/rate/", {"rating": "9"})
    conversation.refresh_from_db()
    assert conversation.rating == 4


def test_franchisee_closes_and_cannot_rate_before(franchisee_client, conversation):
    franchisee_client.post(f"/chat/{conversation.pk}/rate/", {"rating": "5"})
    conversation.refresh_from_db()
    assert conversation.rating is None
    franchisee_client.post(f"/chat/{conversation.pk}/close/")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert conversation.closed_at is not None


def test_close_inactive_conversations(conversation, franchisee, agent):
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)  # waiting ones become tickets
    fresh = services.start_conversation(franchisee=franchisee, topic="Reciente")
    Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=timezone.now() - timedelta(hours=2))
    from chat.tasks import close_inactive_conversations

    assert close_inactive_conversations() == 1
    conversation.refresh_from_db()
    fresh.refresh_from_db()
    assert conversation.status == "closed"
    assert fresh.status == "waiting"
    assert conversation.messages.filter(kind="system", body__icontains="inactividad").exists()


def test_chat_to_ticket_holds_the_transcript_and_links_both(conversation, franchisee, agent):
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    services.post_message(conversation_id=conversation.pk, author=franchisee, body="Sale error 42", client_id="t1")
    response = client_for(franchisee).post(f"/chat/{conversation.pk}/ticket/")
    conversation.refresh_from_db()
    ticket = conversation.ticket
    assert ticket is not None
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    assert "Sale error 42" in ticket.description
    assert ticket.subject == conversation.topic
    assert ticket.franchise_id == conversation.franchise_id
    assert ticket.source == "chat"
    assert conversation.messages.filter(kind="system", body__contains=f"/tickets/{ticket.pk}/").exists()
    again = client_for(agent).post(f"/chat/{conversation.pk}/ticket/")
    assert again["Location"] == f"/tickets/{ticket.pk}/"  # idempotent: one ticket


def test_conversation_page_renders_transcript_and_actions(conversation, agent):
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    services.post_message(
        conversation_id=conversation.pk, author=agent, body="<script>alert(1)</script>", client_id="x"
    )
    page = client_for(agent).get(f"/chat/{conversation.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "chat/chat.js" in page
    assert f"/chat/{conversation.pk}/transfer/" in page
    assert f"/chat/{conversation.pk}/resolve/" in page


def test_queue_panel_on_dashboard(conversation, agent):
    client = client_for(agent)
    page = client.get("/agent/").content.decode()
    assert 'id="chat-queue"' in page
    listing = client.get("/chat/").content.decode()
    assert "Activos de otros agentes" in listing
    assert "La impresora no imprime" in listing
    assert 'id="chat-start-form"' not in listing
    assert "La impresora no imprime" in page
    assert "chat/queue.js" in page


def test_lists_have_no_n_plus_one(conversation, franchisee, agent, django_assert_max_num_queries):
    for n in range(3):
        services.start_conversation(franchisee=franchisee, topic=f"Tema {n}")
    client = client_for(agent)
    client.get("/chat/")
    with django_assert_max_num_queries(12):
        response = client.get("/chat/")
    assert response.status_code == 200
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    with django_assert_max_num_queries(12):
        client.get("/chat/")


def test_transcript_page_queries_do_not_grow_with_messages(
    conversation, franchisee, agent, django_assert_max_num_queries
):
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    cache.clear()
    for n in range(15):
        services.post_message(conversation_id=conversation.pk, author=franchisee, body=f"m{n}", client_id=f"m{n}")
    client = client_for(agent)
    with django_assert_max_num_queries(12):
        assert client.get(f"/chat/{conversation.pk}/").status_code == 200


def test_draft_article_calls_the_kb_service(conversation, agent):
    article = mock.Mock(get_edit_url=lambda: "/kb/x/edit/")
    with mock.patch(
        "knowledge_base.services.draft_article_from_conversation", return_value=article, create=True
    ) as draft:
        response = client_for(agent).post(f"/chat/{conversation.pk}/draft-article/")
    assert response["Location"] == "/kb/x/edit/"
    assert draft.call_args.kwargs["conversation"].pk == conversation.pk
    assert draft.call_args.kwargs["actor"] == agent


def test_seed_is_idempotent(db):
    import io

    from accounts import demo as accounts_demo
    from chat import demo

    accounts_demo.seed(password="x-pass-123", stdout=io.StringIO())
    assert demo.seed(password="x", stdout=io.StringIO()) == []
    demo.seed(password="x", stdout=io.StringIO())
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get().messages.count() > 3
