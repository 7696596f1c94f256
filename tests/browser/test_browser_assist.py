"""Knowledge at hand and similar tickets in a real browser: the panels load after the page, an
article's link goes into the ticket reply and the chat box with the keyboard, the waiting
franchisee sees suggestions, and a franchisee writing a ticket is pointed to their own
franchise's open ticket on the same problem (never another franchise's)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from chat import services as chat_services
from knowledge_base import services as kb
from tickets import services as ts
from tests.tickets_factories import make_ticket
carmen = User.objects.get(username="fran_centro")
nuria = User.objects.get(username="fran_norte")
ana = User.objects.get(username="agent_a")
printer = kb.create_article(actor=ana, title="La impresora de tickets no imprime", status="published",
    body="Revisa el rollo de papel térmico.", summary="Cambia el rollo y cierra la tapa.")
kb.create_article(actor=ana, title="Contraseña olvidada", body="Pulsa «olvidé».", status="published")
old = make_ticket(carmen, subject="La impresora no imprime recibos", description="La impresora no imprime")
ts.add_comment(ticket=old, actor=ana, body="Cambiad el rollo de papel térmico.")
ts.change_status(ticket=old, actor=ana, status="resolved")
open_centro = make_ticket(carmen, subject="La impresora sigue sin imprimir", description="Nada")
open_norte = make_ticket(nuria, subject="La impresora de Norte no imprime", description="Nada")
new = make_ticket(carmen, subject="Mi impresora no imprime", description="La impresora de tickets no imprime")
chat = chat_services.start_conversation(franchisee=carmen, topic="La impresora no imprime")
result = {"printer": printer.slug, "old": old.number, "new": new.pk, "new_number": new.number, "chat": chat.pk,
          "open_centro": open_centro.number, "open_norte": open_norte.number}
"""


def test_article_link_into_ticket_reply_and_chat_box(open_as, live):
    seeded = live.run_django(SEED)
    link = re.compile(rf"/kb/{seeded['printer']}/")

    # The waiting franchisee sees suggestions for their topic, without a search box.
    carmen = open_as("fran_centro")
    carmen.goto(f"/chat/{seeded['chat']}/")
    suggestions = carmen.locator("[data-assist-kb]")
    expect(suggestions.locator("a", has_text="La impresora de tickets no imprime")).to_be_visible()
    expect(suggestions.locator("button")).to_have_count(0)
    screenshot(carmen, "assist-waiting-suggestions")

    # Ticket: related articles load after the page; insert with the keyboard only.
    ana = open_as("agent_a")
    ana.goto(f"/tickets/{seeded['new']}/")
    panel = ana.locator("[data-assist-kb]")
    expect(panel.locator(".assist-hit a", has_text="La impresora de tickets no imprime")).to_be_visible()
    ana.fill("#id_body", "Hola: ")
    panel.locator(".assist-kb-with-summary").check()
    search = panel.locator(".assist-kb-q")
    search.focus()
    ana.keyboard.type("contraseña", delay=30)
    expect(panel).to_have_attribute("data-answered", "contraseña")
    expect(panel.locator(".assist-hit a").first).to_have_text("Contraseña olvidada")
    search.fill("")
    ana.keyboard.type("impresora", delay=30)
    expect(panel).to_have_attribute("data-answered", "impresora")
    insert = panel.locator(".assist-insert").first
    insert.focus()
    ana.keyboard.press("Enter")
    body = ana.locator("#id_body")
    expect(body).to_be_focused()
    expect(body).to_have_value(re.compile(r"^Hola: \[La impresora de tickets no imprime\]\(http://[^)]+/kb/"))
    expect(body).to_have_value(re.compile(r"\n> Cambia el rollo y cierra la tapa\.$"))
    screenshot(ana, "assist-ticket-panel")
    ana.click("form[action$='/comments/'] button[type=submit]")
    expect(ana.locator(".timeline a", has_text="La impresora de tickets no imprime")).to_have_attribute("href", link)

    # Chat: accept, then insert into the chat box with one click; the franchisee gets the link.
    ana.goto(f"/chat/{seeded['chat']}/")
    ana.click("text=Aceptar chat")
    expect(ana.locator("#chat-status")).to_have_attribute("data-status", "active")
    panel = ana.locator("[data-assist-kb]")
    panel.locator(".assist-hit", has_text="La impresora de tickets no imprime").locator(".assist-insert").click()
    expect(ana.locator("#chat-body")).to_have_value(re.compile(r"^La impresora de tickets no imprime: http://"))
    ana.click("#chat-compose button[type=submit]")
    expect(carmen.locator("#chat-messages li", has_text="La impresora de tickets no imprime")).to_be_visible()
    article_link = carmen.locator("#chat-messages li a", has_text=f"/kb/{seeded['printer']}/")
    expect(article_link).to_have_attribute("href", re.compile(rf"^http://[^/]+/kb/{seeded['printer']}/$"))
    carmen.reload()  # the page's own rendering links it too
    expect(article_link).to_have_attribute("href", re.compile(rf"^http://[^/]+/kb/{seeded['printer']}/$"))
    assert not ana.errors and not carmen.errors


def test_similar_tickets_and_same_problem(open_as, live):
    seeded = live.run_django(SEED)
    ana = open_as("agent_a")
    ana.goto(f"/tickets/{seeded['new']}/")
    similar = ana.locator("[data-assist-similar]")
    item = similar.locator(".assist-hit", has_text=seeded["old"])
    expect(item).to_be_visible()
    expect(item.locator(".badge")).to_have_text("Misma franquicia")
    item.locator("summary").click()
    expect(item.locator(".assist-solution")).to_have_text("Cambiad el rollo de papel térmico.")
    screenshot(ana, "assist-similar-tickets")

    carmen = open_as("fran_centro")
    carmen.goto("/tickets/new/")
    carmen.type("#id_subject", "la impresora no imprime", delay=30)
    hint = carmen.locator("[data-assist-same]")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text(
        re.compile(rf"¿Es el mismo problema que ({seeded['open_centro']}|{seeded['new_number']})\?")
    )
    expect(hint).not_to_contain_text(seeded["open_norte"])
    expect(hint.locator("a")).to_have_attribute("href", re.compile(r"^/tickets/\d+/$"))
    screenshot(carmen, "assist-same-problem")

    nuria = open_as("fran_norte")
    nuria.goto("/tickets/new/")
    nuria.type("#id_subject", "la impresora no imprime", delay=30)
    hint = nuria.locator("[data-assist-same]")
    expect(hint).to_contain_text(seeded["open_norte"])
    expect(hint).not_to_contain_text(seeded["open_centro"])
