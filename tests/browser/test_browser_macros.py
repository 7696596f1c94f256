"""Macros in a real browser: "/" + part of a name in the ticket reply box and in the chat box,
picked with the keyboard only; the rendered text is previewed in the textarea, sent, and the
franchisee sees it; the macro's ticket actions are applied with the reply; usage is counted."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from macros import services
from tests.tickets_factories import make_ticket
carmen = User.objects.get(username="fran_centro")
ana = User.objects.get(username="agent_a")
boss = User.objects.get(username="boss")
ticket = make_ticket(carmen, subject="El datáfono no imprime")
services.create_macro(actor=boss, shared=True, name="reinicio-datafono",
    body="Hola {{franquiciado}}: sobre {{ticket}}, reinicia el datáfono. Un saludo, {{agente}}",
    set_status="pending", set_priority="high")
services.create_macro(actor=boss, shared=True, name="reembolso", body="Te devolvemos el importe.")
services.create_macro(actor=User.objects.get(username="agent_b"), name="reinicio-bea", body="Personal de Bea")
result = {"ticket": ticket.pk, "number": ticket.number}
"""

STATE = """
from macros.models import Macro
from tickets.models import Ticket
t = Ticket.objects.get(pk=params["ticket"])
result = {"status": t.status, "priority": t.priority,
          "uses": Macro.objects.get(name="reinicio-datafono").usage_count}
"""

USES = """
from macros.models import Macro
result = Macro.objects.get(name="reinicio-datafono").usage_count
"""


def _open_picker(page, box: str, query: str):
    page.focus(box)
    page.keyboard.type("/" + query, delay=40)
    listbox = page.locator(f"#{box.lstrip('#')}-macros")
    expect(listbox).to_be_visible()
    expect(page.locator(box)).to_have_attribute("aria-activedescendant", re.compile(r".+-macros-\d+"))
    return listbox


def test_macro_in_ticket_reply_and_chat_with_keyboard(open_as, live):
    seeded = live.run_django(SEED)
    ticket_path = f"/tickets/{seeded['ticket']}/"
    agent = open_as("agent_a")
    agent.goto(ticket_path)

    listbox = _open_picker(agent, "#id_body", "rein")
    options = listbox.locator("[role=option]")
    expect(options).to_have_count(1)  # Bea's personal macro is not offered to Ana
    expect(options.first).to_contain_text("/reinicio-datafono")
    expect(options.first).to_have_attribute("aria-selected", "true")
    screenshot(agent, "macros-picker-ticket")
    agent.keyboard.press("Escape")
    expect(listbox).to_be_hidden()

    # Reopen with a wider query, move with the arrows, insert with Enter.
    agent.fill("#id_body", "")
    listbox = _open_picker(agent, "#id_body", "re")
    expect(listbox.locator("[role=option]")).to_have_count(2)
    first = listbox.locator("[role=option]").first.get_attribute("data-name")
    agent.keyboard.press("ArrowDown")
    agent.keyboard.press("ArrowDown")  # wraps back to the first
    expect(agent.locator("#id_body")).to_have_attribute("aria-activedescendant", re.compile(r"-macros-\d+$"))
    if first != "reinicio-datafono":
        agent.keyboard.press("ArrowDown")
    agent.keyboard.press("Enter")
    expect(listbox).to_be_hidden()
    preview = f"Hola Carmen: sobre {seeded['number']}, reinicia el datáfono. Un saludo, Ana"
    expect(agent.locator("#id_body")).to_have_value(preview)
    summary = agent.locator(".macro-summary")
    expect(summary).to_contain_text("Pendiente del franquiciado")
    expect(summary).to_contain_text("Alta")

    # The agent edits the preview, then sends.
    agent.locator("#id_body").press("End")
    agent.keyboard.type(" (probado)")
    agent.click("form[action$='/comments/'] button[type=submit]")
    expect(agent.locator("ol.timeline")).to_contain_text("reinicia el datáfono. Un saludo, Ana (probado)")
    state = live.run_django(STATE, ticket=seeded["ticket"])
    assert state == {"status": "pending", "priority": "high", "uses": 1}

    franchisee = open_as("fran_centro")
    franchisee.goto(ticket_path)
    expect(franchisee.locator("ol.timeline")).to_contain_text(preview + " (probado)")
    expect(franchisee.locator("[data-macro-picker]")).to_have_count(0)

    # The chat box: the same picker, Enter inserts (it does not send), a second Enter sends.
    franchisee.goto("/chat/")
    franchisee.fill("#chat-start-form [name=topic]", "Sin línea en el datáfono")
    franchisee.click("#chat-start-form button[type=submit]")
    expect(franchisee).to_have_url(re.compile(r"/chat/\d+/$"))
    chat_path = re.search(r"/chat/\d+/$", franchisee.url).group(0)
    agent.goto(chat_path)
    accept = agent.locator("text=Aceptar chat")
    if accept.count():
        accept.click()
    expect(agent.locator("#chat-status")).to_have_attribute("data-status", "active")
    expect(agent.locator("#chat-connection")).to_have_attribute("data-state", "online")

    listbox = _open_picker(agent, "#chat-body", "reinicio")
    expect(listbox.locator("[role=option]")).to_have_count(1)
    agent.keyboard.press("Enter")
    chat_preview = "Hola Carmen: sobre , reinicia el datáfono. Un saludo, Ana"
    expect(agent.locator("#chat-body")).to_have_value(chat_preview)
    expect(agent.locator("#chat-messages li.mine")).to_have_count(0)  # not sent yet
    expect(agent.locator(".macro-summary")).to_contain_text("no se aplican")
    screenshot(agent, "macros-picker-chat")
    agent.keyboard.press("Enter")
    expect(franchisee.locator("#chat-messages li", has_text="reinicia el datáfono. Un saludo, Ana")).to_be_visible()
    expect(agent.locator("[data-macro-picker]")).to_have_attribute("data-reported", re.compile(r"^\d+$"))
    assert live.run_django(USES) == 2
    assert agent.errors == [] and franchisee.errors == []
