"""Issue 17 — every page of both roles at phone (360, 390, 430 px) and tablet (768 px) widths.

One live stack and one logged-in browser context per user for the whole module (fast): each
page is loaded once and measured at every width by resizing the viewport. A new page is one
line in PAGES (tests/browser/site_pages.py, shared with the accessibility suite). Checks: the
page never scrolls sideways (`scrollWidth <= innerWidth`), touch
targets are at least 44 px high, the bell's dropdown fits the screen, the header menu opens and
closes with the keyboard, the chat's "Enviar" stays visible (also with a keyboard-sized viewport).
Phone-size screenshots for the README (docs/screenshots/mobile-*.png under `make screenshots`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.livestack import LiveStack
from tests.browser.site_pages import PAGES, page_opener, start_site
from tests.browser.site_pages import url as _url

pytestmark = pytest.mark.browser

PHONES = (360, 390, 430)
WIDTHS = (*PHONES, 768)
HEIGHT = 780
TOUCH_MIN = 43.5  # 44 px, with sub-pixel rounding

# Phone screenshots for the README (390 px wide).
SCREENSHOT_PAGES = {
    "home", "tickets", "ticket-new", "chat-conversation", "kb-search-empty", "agent-dashboard", "profile",
}  # fmt: skip

# Visible controls that are too small (height < 44 px) — inline text links are exempt (WCAG 2.5.5).
SMALL_TARGETS = """(min) => {
  const selector = 'button, .button, select, textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
    + ' .mainnav a, .bell-toggle, .whoami, .pagination a';
  return [...document.querySelectorAll(selector)].filter((el) => {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || el.closest('[hidden]')) return false;
    return box.height < min;
  }).map((el) => el.outerHTML.slice(0, 120));
}"""

# The elements that stick out of the viewport (outside any box that scrolls sideways itself).
WIDE = """() => [...document.querySelectorAll('body *')].filter((el) => {
  if (el.getBoundingClientRect().right <= window.innerWidth + 1) return false;
  for (let up = el.parentElement; up; up = up.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return false;
  }
  return true;
}).slice(-4).map((el) => el.outerHTML.slice(0, 100) + ' right=' + Math.round(el.getBoundingClientRect().right))"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[LiveStack]:
    yield from start_site(tmp_path_factory.mktemp("mobile") / "stack")


@pytest.fixture(scope="module")
def pages(browser: Browser, stack: LiveStack) -> Iterator:
    """pages(username) -> that user's logged-in Page (one context per user, reused by every test)."""
    yield from page_opener(browser, stack)


def _width_problems(page: Page) -> list[str]:
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            problems.append(f"{width} px: page is {scroll} px wide; widest: {page.evaluate(WIDE)}")
        small = page.evaluate(SMALL_TARGETS, TOUCH_MIN)
        if small:
            problems.append(f"{width} px: touch targets under 44 px: {small[:4]}")
    return problems


@pytest.mark.parametrize(("username", "name", "path"), PAGES, ids=[f"{u}-{n}" for u, n, _ in PAGES])
def test_page_fits_phones_and_tablets(pages, stack, username, name, path):
    page = pages(username)
    response = page.goto(_url(stack, path))
    assert response is not None and response.status == 200, (path, response and response.status)
    expect(page.locator("#nav-toggle")).to_be_attached()
    problems = _width_problems(page)
    assert not problems, "\n".join(problems)
    if name in SCREENSHOT_PAGES:
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, f"mobile-{name}")
    assert not page.errors, page.errors


@pytest.mark.parametrize("username", ["fran_centro", "agent_a"])
def test_the_bell_dropdown_fits_the_screen(pages, stack, username):
    page = pages(username)
    page.goto("/")
    toggle, dropdown = page.locator("#notification-bell-toggle"), page.locator("#notification-dropdown")
    for width in (*WIDTHS, 1280):
        page.set_viewport_size({"width": width, "height": HEIGHT})
        toggle.click()
        expect(dropdown).to_be_visible()
        expect(dropdown.locator(".bell-item").first).to_be_visible()
        box = dropdown.bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, (width, box)
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= HEIGHT, (width, box)
        if width == 390:
            screenshot(page, "mobile-bell" if username == "fran_centro" else "mobile-agent-bell")
        page.keyboard.press("Escape")
        expect(dropdown).to_be_hidden()


def test_the_menu_button_opens_and_closes_the_nav_with_the_keyboard(pages):
    page = pages("fran_centro")
    page.goto("/")
    page.set_viewport_size({"width": 390, "height": HEIGHT})
    button, nav = page.locator("#nav-toggle"), page.locator("nav.mainnav")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    # The header is one row: brand, bell, menu button (not a quarter of the screen).
    assert page.locator("header.topbar").bounding_box()["height"] <= 64
    # Tab from the top of the page reaches the button (skip link, brand, bell, button).
    page.locator("body").focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "nav-toggle":
            break
    assert page.evaluate("document.activeElement.id") == "nav-toggle"
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    screenshot(page, "mobile-menu-open")
    page.keyboard.press("Tab")  # into the menu: its first link
    assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
    page.keyboard.press("Escape")  # closes and gives the focus back to the button
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "nav-toggle"
    page.keyboard.press("Space")
    expect(nav).to_be_visible()
    page.keyboard.press("Space")
    expect(nav).to_be_hidden()
    # Desktop: no button, the links are in the header.
    page.set_viewport_size({"width": 1280, "height": HEIGHT})
    expect(button).to_be_hidden()
    expect(nav).to_be_visible()


@pytest.mark.parametrize("username", ["fran_centro", "agent_a"])
def test_the_chat_send_button_stays_visible(pages, stack, username):
    page = pages(username)
    page.set_viewport_size({"width": 390, "height": HEIGHT})
    page.goto(_url(stack, "{chat}"))
    send = page.locator("#chat-compose button[type=submit]")
    expect(send).to_have_text("Enviar")
    # A full screen, then a keyboard-sized one (resizes-content): "Enviar" is on screen in both.
    for width, height in ((360, 740), (390, HEIGHT), (430, 932), (390, 420), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        page.locator("#chat-body").focus()
        box = send.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (width, height, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, height, box)
