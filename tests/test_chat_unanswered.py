"""Unanswered chats become tickets; the ticket made from a chat (assignee, transcript, live link)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from chat import services
from chat.models import Conversation
from chat.tasks import ticket_unanswered_conversations
from notifications.models import Notification
from support_portal.stored_text import render

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _age(conversation: Conversation, minutes: int) -> None:
    then = timezone.now() - timedelta(minutes=minutes)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=then, last_activity_at=then)


def test_a_chat_waiting_too_long_becomes_a_ticket_and_the_franchisee_is_told(
    franchisee, franchisee_client, django_capture_on_commit_callbacks
):
    old = services.start_conversation(franchisee=franchisee, topic="Nadie contesta")
    services.post_message(conversation_id=old.pk, author=franchisee, body="¿Hola?\nSigo aquí", client_id="c1")
    fresh = services.start_conversation(franchisee=franchisee, topic="Recién llegado")
    _age(old, 11)
    with (
        mock.patch("chat.services.push_to_group") as pushed,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert ticket_unanswered_conversations() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert fresh.status == "waiting" and fresh.ticket_id is None
    ticket = old.ticket
    assert old.status == "closed" and ticket is not None
    assert (ticket.source, ticket.requester_id, ticket.franchise_id) == ("chat", franchisee.pk, franchisee.franchise_id)
    assert "¿Hola?\nSigo aquí" in ticket.description
    said = [render(m.body) for m in old.messages.filter(kind="system")]
    assert any("Nadie ha podido atenderte en 10 minutos" in text and f"/tickets/{ticket.pk}/" in text for text in said)
    # live: the system messages and a conversation frame carrying the ticket
    frames = [call.args[1] for call in pushed.call_args_list]
    assert any(f["type"] == "conversation" and f["ticket"] == ticket.pk and f["status"] == "closed" for f in frames)
    told = Notification.objects.get(recipient=franchisee, kind="ticket_status")
    assert told.url == f"/tickets/{ticket.pk}/"
    assert ticket.number in render(told.title)
    # the page the franchisee has open says so too
    page = franchisee_client.get(f"/chat/{old.pk}/").content.decode()
    assert "Nadie ha podido atenderte" in page
    assert ticket_unanswered_conversations() == 0  # once


def test_the_setting_sets_the_wait(settings, franchisee):
    settings.CHAT_UNANSWERED_MINUTES = 30
    conversation = services.start_conversation(franchisee=franchisee, topic="Paciencia")
    _age(conversation, 20)
    assert ticket_unanswered_conversations() == 0
    _age(conversation, 31)
    assert ticket_unanswered_conversations() == 1


def test_inactivity_never_closes_a_waiting_chat_unseen(franchisee):
    from chat.tasks import close_inactive_conversations

    conversation = services.start_conversation(franchisee=franchisee, topic="Olvidado")
    _age(conversation, 120)
    assert close_inactive_conversations() == 0
    conversation.refresh_from_db()
    assert conversation.status == "waiting"  # the unanswered task turns it into a ticket instead
    assert ticket_unanswered_conversations() == 1


def test_the_unanswered_task_is_scheduled(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["chat.tasks.ticket_unanswered_conversations"] <= 60


def test_an_answered_or_accepted_chat_is_left_alone(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="Atendido")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    _age(conversation, 30)
    assert ticket_unanswered_conversations() == 0
    conversation.refresh_from_db()
    assert conversation.ticket_id is None and conversation.status == "active"


# --- chat → ticket quality ----------------------------------------------------------------------


def test_ticket_from_a_chat_is_assigned_to_the_chats_agent(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="Asignar")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=franchisee)  # the franchisee asks
    ticket.refresh_from_db()
    assert ticket.assignee_id == agent.pk
    assert ticket.events.filter(kind="assigned").exists()


def test_transcript_keeps_line_breaks_names_system_lines_and_the_zone(franchisee, agent, settings):
    conversation = services.start_conversation(franchisee=franchisee, topic="Transcripción")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    services.post_message(conversation_id=conversation.pk, author=franchisee, body="Línea 1\nLínea 2", client_id="a")
    ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=agent)
    description = ticket.description
    assert "Horas en Europe/Madrid." in description
    assert "] Sistema: Chat iniciado: «Transcripción»." in description
    assert "Línea 1\nLínea 2" in description
    import zoneinfo

    first = conversation.messages.first().created_at
    madrid = timezone.localtime(first, zoneinfo.ZoneInfo("Europe/Madrid"))
    assert f"[{madrid:%d/%m/%Y %H:%M}] Sistema:" in description  # the portal's zone, named above
    page = client_for(agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Línea 1<br />\nLínea 2" in page or "Línea 1<br>\nLínea 2" in page  # the page keeps the breaks


def test_the_franchisees_convert_button_gives_way_to_the_link_live(franchisee, franchisee_client, agent):
    """The page has the hooks chat.js uses on a `conversation` frame carrying `ticket`."""
    conversation = services.start_conversation(franchisee=franchisee, topic="Botón")
    page = franchisee_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert 'id="chat-to-ticket"' in page and 'id="chat-ticket" hidden' in page
    from pathlib import Path

    script = (Path(__file__).resolve().parent.parent / "chat/static/chat/chat.js").read_text()
    assert 'getElementById("chat-to-ticket")' in script


def test_macro_ticket_actions_apply_to_the_chats_ticket(franchisee, agent, agent_client):
    from macros import services as macro_services

    macro = macro_services.create_macro(actor=agent, name="urgente", body="Lo miramos ya", set_priority="high")
    conversation = services.start_conversation(franchisee=franchisee, topic="Macro en chat")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    before, _ = services.post_message(
        conversation_id=conversation.pk, author=agent, body="Lo miramos ya", client_id="m0"
    )
    assert agent_client.post(f"/agent/macros/{macro.pk}/used/", {"message": before.pk}).json() == {"counted": True}
    ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=agent)
    assert ticket.priority == "normal"  # used before the ticket existed: nothing to act on
    after, _ = services.post_message(
        conversation_id=conversation.pk, author=agent, body="Lo miramos ya", client_id="m1"
    )
    agent_client.post(f"/agent/macros/{macro.pk}/used/", {"message": after.pk})
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    agent_client.post(f"/agent/macros/{macro.pk}/used/", {"message": after.pk})  # counted once, applied once
    assert ticket.events.filter(kind="priority").count() == 1


def test_the_chat_picker_says_where_macro_actions_go(franchisee, agent, agent_client):
    conversation = services.start_conversation(franchisee=franchisee, topic="Picker")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    page = agent_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "En el chat no se aplican acciones de ticket" in page
    services.conversation_to_ticket(conversation_id=conversation.pk, actor=agent)
    page = agent_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "Al enviar se aplican al ticket vinculado" in page
