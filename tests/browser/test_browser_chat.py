"""Scenario 7.1 — instant resolution in chat, in two browser contexts (franchisee and agent).

The agent takes the conversation from the live queue on /agent/; messages and the typing
indicator cross both ways without a reload; the franchisee turns the chat into a ticket in one
click and lands on it.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def _send(page, text: str) -> None:
    page.fill("#chat-body", text)
    page.click("#chat-compose button[type=submit]")


def test_chat_from_queue_to_ticket(open_as):
    agent = open_as("agent_a")
    agent.goto("/agent/")
    queue = agent.locator("#chat-queue-waiting")
    expect(queue).to_be_visible()

    franchisee = open_as("fran_centro")
    franchisee.goto("/chat/")
    franchisee.fill("#chat-start-form [name=topic]", "El datáfono no conecta")
    franchisee.click("#chat-start-form button[type=submit]")
    expect(franchisee).to_have_url(re.compile(r"/chat/\d+/$"))
    conversation_url = franchisee.url
    expect(franchisee.locator("#chat-connection")).to_have_attribute("data-state", "online")

    # The waiting conversation appears in the agent's queue without a reload.
    entry = queue.locator("li[data-id] a", has_text="El datáfono no conecta")
    expect(entry).to_be_visible()
    screenshot(agent, "agent-dashboard-queue")
    entry.click()
    agent.click("text=Aceptar chat")
    expect(agent.locator("#chat-status")).to_have_attribute("data-status", "active")
    expect(agent.locator("#chat-connection")).to_have_attribute("data-state", "online")

    # The franchisee sees the agent join live.
    expect(franchisee.locator("#chat-status")).to_have_attribute("data-status", "active")
    expect(franchisee.locator("#chat-agent")).to_have_text("Ana")
    expect(franchisee.locator("#chat-compose")).to_be_visible()

    # Typing indicator and messages, both ways, without reload.
    franchisee.type("#chat-body", "Hola", delay=50)
    expect(agent.locator("#chat-typing")).to_be_visible()
    expect(agent.locator("#chat-typing")).to_contain_text("Carmen")
    _send(franchisee, "Hola, el datáfono dice «sin línea»")
    expect(agent.locator("#chat-messages li", has_text="sin línea")).to_be_visible()

    agent.type("#chat-body", "Reinicia", delay=50)
    expect(franchisee.locator("#chat-typing")).to_be_visible()
    _send(agent, "Reinicia el router y el datáfono, por favor")
    expect(franchisee.locator("#chat-messages li", has_text="Reinicia el router")).to_be_visible()
    expect(franchisee.locator("#chat-messages li", has_text="sin línea")).to_have_count(1)
    screenshot(franchisee, "chat-conversation")

    # One click: the chat becomes a ticket holding the transcript, and the franchisee lands on it.
    franchisee.click("text=Convertir en ticket")
    expect(franchisee).to_have_url(re.compile(r"/tickets/\d+/$"))
    expect(franchisee.locator("main")).to_contain_text("Reinicia el router")
    expect(franchisee.locator("main")).to_contain_text("El datáfono no conecta")
    screenshot(franchisee, "ticket-from-chat")
    ticket_path = re.search(r"/tickets/\d+/$", franchisee.url).group(0)

    # The agent's page learns about the ticket live, too.
    expect(agent.locator("#chat-ticket")).to_be_visible()
    expect(agent.locator("#chat-ticket a")).to_have_attribute("href", ticket_path)
    franchisee.goto(conversation_url)
    expect(franchisee.locator("#chat-messages li", has_text="sin línea")).to_have_count(1)
    assert franchisee.errors == [] and agent.errors == []
