"""The browser's one time formatter (Portal.formatTime) writes times as the server does: in the
reader's zone from their profile (not the device's) and in the pages' format; the device's zone
is only a first guess, sent once after the first login."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

INSTANT = "2026-12-02T12:05:30.123456+00:00"  # winter: Madrid 13:05, Canarias 12:05
VALID_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

SET_ZONES = """
from accounts.models import Franchise, User
Franchise.objects.filter(code="centro").update(time_zone=params["franchise"])
User.objects.filter(username="fran_centro").update(time_zone=params["user"])
"""


def test_live_times_use_the_profile_zone_not_the_device_zone(live, open_as):
    live.run_django(SET_ZONES, franchise="Atlantic/Canary", user="")
    page = open_as("fran_centro", timezone_id="Atlantic/Canary")  # same as the franchise: nothing to guess
    expect(page.locator("html")).to_have_attribute("data-time-zone", "Atlantic/Canary")
    assert page.evaluate("(iso) => Portal.formatTime(iso)", INSTANT) == "02/12/2026 12:05"
    assert page.evaluate("(iso) => Portal.formatTime(iso, 'time')", INSTANT) == "12:05"
    assert page.evaluate("(iso) => Portal.formatTime(iso, 'date')", INSTANT) == "02/12/2026"
    assert page.evaluate("(iso) => Portal.isoInstant(iso)", INSTANT) == "2026-12-02T12:05:30Z"

    agent = open_as("agent_a", timezone_id="Europe/Madrid")  # support staff: the portal's zone
    expect(agent.locator("html")).to_have_attribute("data-time-zone", "Europe/Madrid")
    assert agent.evaluate("(iso) => Portal.formatTime(iso)", INSTANT) == "02/12/2026 13:05"
    assert page.errors == [] and agent.errors == []


def test_the_first_login_guesses_the_zone_from_the_browser(live, open_as):
    live.run_django(SET_ZONES, franchise="Europe/Madrid", user="")
    page = open_as("fran_centro", timezone_id="Atlantic/Canary")
    expect(page.locator("html")).to_have_attribute("data-time-zone-guessed", "Atlantic/Canary")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-time-zone", "Atlantic/Canary")
    expect(page.locator("html")).not_to_have_attribute("data-time-zone-guess", re.compile("."))
    assert page.evaluate("(iso) => Portal.formatTime(iso)", INSTANT) == "02/12/2026 12:05"


def test_a_live_chat_message_shows_the_time_as_the_server_would(live, open_as):
    live.run_django(SET_ZONES, franchise="Europe/Madrid", user="Atlantic/Canary")
    page = open_as("fran_centro", timezone_id="America/New_York")  # 5-6 hours off: would show
    page.goto("/chat/")
    page.fill("#chat-start-form [name=topic]", "La caja no cuadra")
    page.click("#chat-start-form button[type=submit]")
    expect(page.locator("#chat-connection")).to_have_attribute("data-state", "online")
    page.fill("#chat-body", "Hola")
    page.click("#chat-compose button[type=submit]")
    live_time = page.locator("#chat-messages li", has_text="Hola").locator("time")
    expect(live_time).to_have_attribute("datetime", VALID_DATETIME)
    stamp = live_time.get_attribute("datetime")
    expected = live.run_django(
        "import zoneinfo\nfrom datetime import datetime\nfrom support_portal.times import format_datetime\n"
        "result = format_datetime(datetime.fromisoformat(params['stamp'].replace('Z', '+00:00')), 'time',"
        " zone=zoneinfo.ZoneInfo('Atlantic/Canary'))",
        stamp=stamp,
    )
    expect(live_time).to_have_text(expected)  # the same text the server writes for the reader
    page.reload()  # server-rendered now: the same text again
    expect(page.locator("#chat-messages li", has_text="Hola").locator("time")).to_have_text(expected)
    assert page.errors == []
