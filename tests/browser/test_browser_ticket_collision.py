"""Collision detection in a real browser: two agents on one ticket see each other, and who is
writing a reply; a franchisee's ticket page has no presence."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from tests.tickets_factories import make_ticket
ticket = make_ticket(User.objects.get(username="fran_centro"), subject="El TPV no arranca")
result = {"ticket": ticket.pk}
"""


def test_agents_see_who_else_is_on_the_ticket_and_who_is_writing(open_as, live):
    seeded = live.run_django(SEED)
    url = f"/tickets/{seeded['ticket']}/"
    ana = open_as("agent_a")
    ana.goto(url)
    here = ana.locator("[data-assist-presence]")
    expect(here).to_have_attribute("data-socket", "open")
    expect(here).to_have_attribute("data-count", "0")

    bea = open_as("agent_b")
    bea.goto(url)
    expect(here).to_contain_text("Bea")
    expect(here).to_contain_text("está viendo este ticket")
    expect(bea.locator("[data-assist-presence]")).to_contain_text("Ana")

    bea.locator("#id_body").press_sequentially("Estoy en ello", delay=40)
    expect(here).to_contain_text("Bea está escribiendo una respuesta")
    screenshot(ana, "ticket-collision")
    bea.locator("#id_body").blur()
    expect(here).not_to_contain_text("escribiendo")

    bea.close()
    expect(here).to_have_attribute("data-count", "0")
    assert not ana.errors

    # A franchisee's ticket page opens no presence socket.
    carmen = open_as("fran_centro")
    carmen.goto(url)
    expect(carmen.locator("h1")).to_be_visible()
    assert carmen.locator("[data-assist-presence]").count() == 0
