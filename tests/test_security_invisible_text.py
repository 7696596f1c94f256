"""Required text made only of invisible characters is refused by every form and service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support_portal.text import has_visible_text

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c\u200d",  # zero-width (non-)joiner
    "\u2060",  # word joiner
    "\ufeff",  # BOM
    "\u202e\u202d",  # RTL / LTR override
    "\u2066\u2069",  # isolates
    "\u00ad",  # soft hyphen
    "\u3164",  # Hangul filler
    "\u2800",  # Braille blank
    "\u3000\u00a0",  # wide and non-breaking spaces
    "\u0301",  # a lone combining accent
    "\U000e0041",  # tag character
]
INVISIBLE_TEXT = st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=6).map("".join)


@given(INVISIBLE_TEXT)
def test_invisible_only_text_has_no_visible_text(value):
    assert not has_visible_text(value)


@pytest.mark.parametrize("value", ["a", "é", "😀", "\u200bhola\u200b", "\u202eabc", "1", "؟"])
def test_visible_text_passes(value):
    assert has_visible_text(value)


@pytest.mark.django_db
def test_ticket_form_refuses_invisible_subject_and_description(franchisee_client):
    from tickets.models import Ticket

    for data in (
        {"subject": "\u200b\u200b", "description": "El datáfono no imprime"},
        {"subject": "El datáfono", "description": "\u202e\u2060\u3164"},
    ):
        response = franchisee_client.post("/tickets/new/", data)
        assert response.status_code == 400
        assert "texto visible" in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_comment_chat_topic_and_kb_forms_refuse_invisible_text(franchisee, franchisee_client, agent_client):
    from chat.models import Conversation
    from knowledge_base.models import Article
    from tests.tickets_factories import make_ticket

    ticket = make_ticket(franchisee)
    assert franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "\u200b\u200d"}).status_code == 400
    assert not ticket.comments.exists()
    assert franchisee_client.post("/chat/", {"topic": "\u2060\ufeff"}).status_code == 400
    assert not Conversation.objects.exists()
    response = agent_client.post(
        "/kb/new/",
        {"title": "\u200b", "body": "\u202e", "status": "draft", "language": "es", "review_interval_days": 180},
    )
    assert response.status_code in (200, 400)
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_services_refuse_invisible_text(franchisee, agent):
    """The services (behind the API, e-mail and the chat socket) refuse it too."""
    from chat import services as chat_services
    from knowledge_base import services as kb_services
    from tests.tickets_factories import make_ticket
    from tickets import services as ticket_services

    ticket = make_ticket(franchisee)
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Datáfono")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=INVISIBLE_TEXT)
    def check(value):
        with pytest.raises(ValidationError):
            ticket_services.create_ticket(actor=franchisee, subject=value, description="ok")
        with pytest.raises(ValidationError):
            ticket_services.create_ticket(actor=franchisee, subject="ok", description=value)
        with pytest.raises(ValidationError):
            ticket_services.add_comment(ticket=ticket, actor=franchisee, body=value)
        with pytest.raises(chat_services.ChatError):
            chat_services.start_conversation(franchisee=franchisee, topic=value)
        with pytest.raises(chat_services.ChatError):
            chat_services.post_message(conversation_id=conversation.pk, author=franchisee, body=value, client_id="c1")
        with pytest.raises(ValidationError):
            kb_services.create_article(actor=agent, title=value, body="ok")
        with pytest.raises(ValidationError):
            kb_services.create_article(actor=agent, title="ok", body=value)

    check()
