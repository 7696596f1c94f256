"""The language switcher turns the whole UI to English and back to Spanish."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_language_switcher_turns_the_ui_to_english_and_back(open_as):
    page = open_as("fran_centro")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("nav.mainnav")).to_contain_text("Mis tickets")

    page.select_option("#language-select", "en")  # portal.js submits the form on change
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav.mainnav")).to_contain_text("My tickets")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Mis tickets")
    screenshot(page, "home-english")

    page.goto("/notifications/")  # the choice sticks across pages
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.select_option("#language-select", "es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("nav.mainnav")).to_contain_text("Mis tickets")
    assert page.errors == []
