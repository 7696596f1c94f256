"""Scenario 7.3 — transparent follow-up of a ticket.

A franchisee creates a ticket; the agent replies and changes its status; the franchisee's bell
counter updates live (no reload) and the timeline shows every step; the franchisee rates the
resolution.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

UNREAD = """
from notifications.models import Notification
result = Notification.objects.filter(recipient__username=params["username"], read_at__isnull=True).count()
"""


def test_ticket_follow_up_with_live_bell_timeline_and_rating(open_as, live):
    franchisee = open_as("fran_centro")
    franchisee.goto("/tickets/new/")
    franchisee.fill("#id_subject", "La impresora de cocina no imprime")
    franchisee.fill("#id_description", "Desde esta mañana la impresora de cocina no saca los pedidos.")
    franchisee.click("form.card button[type=submit]")
    expect(franchisee).to_have_url(re.compile(r"/tickets/\d+/$"))
    ticket_path = re.search(r"/tickets/\d+/$", franchisee.url).group(0)
    timeline = franchisee.locator("ol.timeline")
    expect(timeline.locator("li")).to_have_count(1)
    expect(timeline).to_contain_text("abrió el ticket")
    count = franchisee.locator("#notification-count")
    expect(count).to_be_hidden()
    expect(franchisee.locator("#notification-bell")).to_have_attribute("data-socket", "open")

    # The agent replies and resolves the ticket while the franchisee keeps the page open.
    agent = open_as("agent_a")
    agent.goto(ticket_path)
    agent.fill("#id_body", "Hemos reiniciado la cola de impresión: prueba ahora.")
    agent.click("form[action$='/comments/'] button[type=submit]")
    expect(agent.locator("ol.timeline")).to_contain_text("Hemos reiniciado la cola")
    expect(count).to_have_text(re.compile(r"^[1-9]$"))  # live, no reload
    after_reply = live.run_django(UNREAD, username="fran_centro")  # every frame of the reply
    expect(count).to_have_text(str(after_reply))
    agent.select_option("#status-to", "resolved")
    agent.click("form[action$='/status/'] button[type=submit]")
    expect(agent.locator(".messages")).to_contain_text("Estado actualizado")
    expect(count).to_have_text(str(after_reply + 1))

    franchisee.click("#notification-bell-toggle")
    expect(franchisee.locator(".bell-item").first).to_be_visible()
    screenshot(franchisee, "ticket-bell-live")

    # The timeline shows the steps, in order.
    franchisee.goto(ticket_path)
    steps = franchisee.locator("ol.timeline > li")
    expect(steps.first).to_contain_text("abrió el ticket")
    expect(timeline).to_contain_text("Hemos reiniciado la cola de impresión")
    expect(timeline).to_contain_text("Resuelto")

    # The franchisee rates the resolution.
    franchisee.check("input[name=rating][value='5']")
    franchisee.fill("#id_comment", "Rápido y claro, gracias.")
    franchisee.click("form[action$='/rate/'] button[type=submit]")
    expect(franchisee.locator(".messages")).to_contain_text("Gracias por tu valoración")
    expect(franchisee.locator("main")).to_contain_text("5/5")
    screenshot(franchisee, "ticket-detail-timeline")
    assert franchisee.errors == [] and agent.errors == []
