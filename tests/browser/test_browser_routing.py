"""Chat routing in a real browser: an available agent gets a new chat without clicking (the
supervisor's board follows live), answers with a macro, inserts a knowledge-base article, turns
the chat into a ticket assigned to them; the franchisee's page shows the ticket link live."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from knowledge_base import services as kb
from macros import services as macros
ana = User.objects.get(username="agent_a")
boss = User.objects.get(username="boss")
printer = kb.create_article(actor=ana, title="La impresora de tickets no imprime", status="published",
    body="Revisa el rollo de papel térmico.", summary="Cambia el rollo y cierra la tapa.")
macros.create_macro(actor=boss, shared=True, name="saludo-impresora",
    body="Hola {{franquiciado}}, soy {{agente}}: vamos a revisar la impresora.")
result = {"ana": ana.pk, "printer": printer.slug}
"""

TICKET = """
from chat.models import Conversation
c = Conversation.objects.select_related("ticket__assignee").get(pk=params["chat"])
result = {"assignee": c.ticket.assignee.username, "source": c.ticket.source, "description": c.ticket.description}
"""


def _socket_open(page) -> None:
    expect(page.locator("#notification-bell")).to_have_attribute("data-socket", "open")


def test_available_agent_gets_the_chat_answers_with_macro_and_article_and_makes_a_ticket(open_as, live):
    seeded = live.run_django(SEED)
    boss = open_as("boss")
    boss.goto("/agent/")
    _socket_open(boss)
    row = boss.locator(f'#agent-board tr[data-agent="{seeded["ana"]}"]')
    expect(row).to_have_attribute("data-state", "offline")

    ana = open_as("agent_a")
    ana.goto("/agent/")
    _socket_open(ana)
    expect(row).to_have_attribute("data-state", "away")  # online now, live on the board
    ana.click("#chat-availability button[value=available]")
    expect(ana.locator("#chat-availability")).to_have_attribute("data-status", "available")
    _socket_open(ana)
    expect(row).to_have_attribute("data-state", "available")

    carmen = open_as("fran_centro")
    carmen.goto("/chat/")
    carmen.fill("#chat-start-form [name=topic]", "La impresora no imprime")
    carmen.click("#chat-start-form button[type=submit]")
    expect(carmen).to_have_url(re.compile(r"/chat/\d+/$"))
    chat = int(re.search(r"/chat/(\d+)/$", carmen.url).group(1))
    expect(carmen.locator("#chat-status")).to_have_attribute("data-status", "active")
    expect(carmen.locator("#chat-agent")).to_have_text("Ana")

    # Ana clicked nothing: the chat is in her active chats, the bell says so, the board counts it.
    mine = ana.locator(f'#chat-queue-mine li[data-id="{chat}"]')
    expect(mine).to_be_visible()
    expect(ana.locator("#notification-count")).to_have_text("1")
    expect(row.locator('[data-field="active"]')).to_have_text("1")
    screenshot(boss, "routing-supervisor-board")
    mine.locator("a").click()
    expect(ana.locator("#chat-status")).to_have_attribute("data-status", "active")
    expect(ana.locator("#chat-connection")).to_have_attribute("data-state", "online")

    # A macro, with the keyboard: "/" + name, Enter inserts, Enter sends.
    ana.focus("#chat-body")
    ana.keyboard.type("/saludo", delay=40)
    expect(ana.locator("#chat-body-macros")).to_be_visible()
    ana.keyboard.press("Enter")
    expect(ana.locator("#chat-body")).to_have_value("Hola Carmen, soy Ana: vamos a revisar la impresora.")
    ana.keyboard.press("Enter")
    expect(carmen.locator("#chat-messages li", has_text="vamos a revisar la impresora")).to_be_visible()

    # A knowledge-base article from the panel, one click, then send.
    panel = ana.locator("[data-assist-kb]")
    panel.locator(".assist-hit", has_text="La impresora de tickets no imprime").locator(".assist-insert").click()
    expect(ana.locator("#chat-body")).to_have_value(re.compile(r"^La impresora de tickets no imprime: http://"))
    ana.click("#chat-compose button[type=submit]")
    expect(carmen.locator("#chat-messages li", has_text=f"/kb/{seeded['printer']}/")).to_be_visible()
    screenshot(ana, "routing-agent-chat")

    # Into a ticket: Ana lands on it; Carmen's button gives way to the link, live.
    expect(carmen.locator("#chat-to-ticket")).to_be_visible()
    ana.click("#chat-to-ticket button")
    expect(ana).to_have_url(re.compile(r"/tickets/\d+/$"))
    ticket_path = re.search(r"/tickets/\d+/$", ana.url).group(0)
    expect(carmen.locator("#chat-ticket a")).to_have_attribute("href", ticket_path)
    expect(carmen.locator("#chat-ticket")).to_be_visible()
    expect(carmen.locator("#chat-to-ticket")).to_be_hidden()
    state = live.run_django(TICKET, chat=chat)
    assert (state["assignee"], state["source"]) == ("agent_a", "chat")
    assert "Sistema: " in state["description"] and "vamos a revisar la impresora" in state["description"]
    # the ticket page keeps one line per message
    expect(ana.locator(".article-body")).to_contain_text("Ana: Hola Carmen, soy Ana")
    assert ana.locator(".article-body br").count() >= 3
    assert not ana.errors and not carmen.errors and not boss.errors
