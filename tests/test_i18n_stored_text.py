"""Stored text (support_portal.stored_text): what the portal writes is read in the reader's language."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core import mail

from chat import services as chat_services
from chat.frames import localize, message_frame
from chat.models import Conversation, Message
from notifications.models import Notification
from notifications.selectors import notification_frame
from notifications.tasks import build_email
from support_portal.stored_text import choice, pstored, render, render_for, stored, when
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Status

pytestmark = pytest.mark.django_db
ChatStatus = Conversation.Status


def test_a_stored_text_renders_in_each_language_and_plain_text_as_it_is():
    text = stored("%(n)s ahora está «%(st)s»", n="T-7", st=choice(Status.RESOLVED))
    assert json.loads(json.dumps(text)) == text  # JSON-able: it goes in a JSONField
    assert render(text, "es") == "T-7 ahora está «Resuelto»"
    assert render(text, "en") == "T-7 is now “Resolved”"
    assert render("Escrito por un usuario: %(x)s", "en") == "Escrito por un usuario: %(x)s"
    assert render(None) == ""


def test_a_parameter_is_never_translated_or_interpreted():
    text = stored("%(name)s se ha unido al chat.", name="Revisado %(n)s <b>")
    assert render(text, "en") == "Revisado %(n)s <b> joined the chat."


def test_dates_follow_the_reader_language_format():
    text = stored("Revisión prevista el %(date)s.", date=when(date(2026, 3, 4)))
    assert render(text, "en") == "Review due on 04/03/2026."  # day first, not the US order
    assert render(text, "es") == "Revisión prevista el 04/03/2026."


def test_translation_context_separates_two_meanings():
    assert render(pstored("chat", "En espera"), "en") == "Waiting"
    assert render(choice(Status.ON_HOLD), "en") == "On hold"
    assert render(choice(ChatStatus.WAITING), "en") == "Waiting"


def test_a_chat_system_message_stored_by_a_spanish_agent_reads_in_english(franchisee, agent):
    franchisee.preferred_language = "en"
    franchisee.save()
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Caja")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)  # agent reads Spanish
    joined = Message.objects.filter(conversation=conversation, kind="system").order_by("id").last()
    assert joined.body == "Ana se ha unido al chat."  # the plain column: the portal's language
    frame = message_frame(joined)
    assert localize(frame, "en")["body"] == "Ana joined the chat."
    assert localize(frame, "es")["body"] == "Ana se ha unido al chat."
    assert "text" not in localize(frame, "en")  # the stored form never reaches the client


def test_notification_title_follows_the_reader_at_the_moment_of_reading(franchisee, agent, supervisor):
    agent.preferred_language = "en"
    agent.save()
    ticket = make_ticket(franchisee)
    ticket_services.assign(ticket=ticket, actor=supervisor, assignee=agent)
    notification = Notification.objects.get(recipient=agent, kind="ticket_assigned")
    assert notification_frame(notification, 1, "en")["title"].startswith(f"{ticket.number} was assigned to you")
    assert notification_frame(notification, 1, "es")["title"].startswith(f"Te han asignado {ticket.number}")
    # The agent switches to Spanish later: the same row now reads in Spanish.
    agent.preferred_language = "es"
    agent.save()
    assert render_for(notification.title_text, agent).startswith("Te han asignado")


def test_the_email_is_in_the_recipient_language(franchisee, agent):
    franchisee.preferred_language = "en"
    franchisee.email = "fran@example.com"
    franchisee.save()
    ticket = make_ticket(franchisee)
    ticket_services.change_status(ticket=ticket, actor=agent, status=Status.ON_HOLD)
    notification = Notification.objects.filter(recipient=franchisee).latest("id")
    message = build_email(notification)
    assert f"{ticket.number} is now “On hold”" in message.subject
    assert "En espera" not in message.body
    mail.outbox.clear()


def test_rows_written_before_stored_text_keep_rendering(franchisee):
    old = Notification.objects.create(recipient=franchisee, kind="ticket_status", title="Texto antiguo", body="b")
    assert old.shown_title == "Texto antiguo"
    assert notification_frame(old, 1, "en")["title"] == "Texto antiguo"
