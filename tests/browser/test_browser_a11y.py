"""Issue 17 — accessibility: every page of both roles, in Spanish and in English, is clean under
axe-core (the rendered DOM) and the Nu HTML checker (the HTML the server sent); plus the
behaviours the checkers cannot see: the language selector does not navigate on arrow keys, a
failed submit moves the focus to the error summary, chat ticks are announced, the chat topic's
button is one Tab away, and a forgotten password is reset with the keyboard alone.

The pages are tests/browser/site_pages.py's PAGES (shared with the mobile suite) and
ANONYMOUS_PAGES. Checkers: tests/browser/a11y.py (tools/a11y/, `make a11y-tools`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.a11y import AXE_JS, NuChecker, axe_violations, missing_idrefs, nu_checker, require_tools
from tests.browser.conftest import login, new_context
from tests.browser.livestack import LiveStack
from tests.browser.site_pages import ANONYMOUS_PAGES, PAGES, page_opener, start_site, url

pytestmark = pytest.mark.browser

LANGUAGES = ("es", "en")
RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(scope="module")
def nu(tmp_path_factory) -> Iterator[NuChecker]:
    yield from nu_checker(tmp_path_factory.mktemp("vnu"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, nu) -> Iterator[LiveStack]:
    """The seeded site; after `nu`, so the Nu checker's JVM starts while this stack does."""
    require_tools(AXE_JS)
    yield from start_site(tmp_path_factory.mktemp("a11y") / "stack")


def switch_language(page: Page, code: str) -> None:
    """As a user does: choose the language in the header's selector and press its button."""
    page.select_option("#language-select", code)
    if page.locator("html").get_attribute("lang") != code:
        page.locator(".langswitch button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


@pytest.fixture(scope="module")
def languages() -> dict[str, str]:
    """username -> the language their profile has now (the seed's users start in Spanish)."""
    return {}


def in_language(opener, languages: dict[str, str], lang: str):
    """open(username) -> that user's page in `lang`. The language is the user's (their profile,
    shared by every context they are signed in with), so an English page of fran_centro turns her
    Spanish context English too: switch back whenever the other one was chosen last (whatever order
    the tests run in, e.g. split between xdist workers)."""

    def _page(username: str) -> Page:
        page = opener(username)
        if languages.get(username, "es") != lang:
            switch_language(page, lang)
            languages[username] = lang
        return page

    return _page


@pytest.fixture(scope="module")
def pages_es(browser: Browser, stack: LiveStack, languages) -> Iterator:
    for opener in page_opener(browser, stack):
        yield in_language(opener, languages, "es")


@pytest.fixture(scope="module")
def pages_en(browser: Browser, stack: LiveStack, languages) -> Iterator:
    for opener in page_opener(browser, stack):
        yield in_language(opener, languages, "en")


@pytest.fixture(scope="module")
def anonymous(browser: Browser, stack: LiveStack) -> Iterator[Page]:
    context = new_context(browser, stack)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def check(page: Page, nu: NuChecker, path: str, lang: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    problems = [f"Nu: {message}" for message in nu.messages(response.text())]
    problems += [f"missing id: {ref}" for ref in missing_idrefs(page)]
    for violation in axe_violations(page):
        problems.append(f"axe {violation['id']} ({violation['impact']}): {violation['help']}")
        problems.extend(f"    {node}" for node in violation["nodes"])
    assert not problems, f"{path} ({lang}):\n" + "\n".join(problems)
    assert not page.errors, page.errors


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("username", "name", "path"), PAGES, ids=[f"{u}-{n}" for u, n, _ in PAGES])
def test_page_is_clean_under_axe_and_the_nu_checker(pages_es, pages_en, stack, nu, username, name, path, lang):
    page = (pages_es if lang == "es" else pages_en)(username)
    check(page, nu, url(stack, path), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("name", "path"), ANONYMOUS_PAGES, ids=[n for n, _ in ANONYMOUS_PAGES])
def test_anonymous_page_is_clean_under_axe_and_the_nu_checker(anonymous, stack, nu, name, path, lang):
    anonymous.context.clear_cookies()  # signed out, whatever an earlier test did
    anonymous.context.add_cookies([{"name": "django_language", "value": lang, "url": stack.url}])
    check(anonymous, nu, path, lang)


# --- what the checkers cannot see -------------------------------------------------------------------


def test_the_language_selector_does_not_navigate_on_arrow_keys(anonymous, stack):
    page = anonymous
    page.context.add_cookies([{"name": "django_language", "value": "es", "url": stack.url}])
    page.goto("/accounts/login/")
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    select = page.locator("#language-select")
    select.focus()
    page.keyboard.press("ArrowDown")  # browsing the options changes the value, not the page
    expect(select).to_have_attribute("data-pending", "true")
    expect(select).to_have_value("en")
    assert sent == [] and page.locator("html").get_attribute("lang") == "es"
    page.keyboard.press("Enter")  # an explicit choice sends it
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch_language(page, "es")  # a pick with the mouse still sends at once
    assert page.errors == []


def test_a_failed_submit_moves_the_focus_to_the_error_summary(pages_es, anonymous, stack):
    page = pages_es("fran_centro")
    page.goto("/tickets/new/")
    page.locator("form.ticket-new-form button[type=submit]").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Revisa el formulario")
    summary.locator("a[href='#id_subject']").click()
    expect(page.locator("#id_subject")).to_be_focused()
    # also on the anonymous password reset form (an address that is not one)
    anonymous.context.add_cookies([{"name": "django_language", "value": "es", "url": stack.url}])
    anonymous.goto("/accounts/password/reset/")
    anonymous.fill("#id_email", "no-es-un-correo")
    anonymous.locator("form.stack button[type=submit]").click()
    expect(anonymous.locator("#error-summary")).to_be_focused()
    expect(anonymous.locator("#id_email")).to_have_attribute("aria-invalid", "true")


def test_chat_ticks_are_announced(pages_es, stack):
    page = pages_es("fran_centro")
    page.goto(url(stack, "{chat}"))
    expect(page.locator("#chat-connection")).to_have_attribute("data-state", "online")
    ticks = page.locator("#chat-messages li.mine .tick")
    assert ticks.count() > 0
    expect(page.get_by_role("img", name="Enviado").first).to_be_visible()
    page.fill("#chat-body", "¿Se oye el estado de este mensaje?")
    page.locator("#chat-compose button[type=submit]").click()
    last = page.locator("#chat-messages li.mine").last
    expect(last).to_contain_text("¿Se oye el estado de este mensaje?")
    expect(last.get_by_role("img")).to_have_attribute("aria-label", "Enviado")  # acknowledged by the server
    assert page.errors == []


def test_the_chat_topic_and_its_button_are_one_tab_apart(pages_es):
    page = pages_es("fran_centro")
    page.goto("/chat/")
    page.locator("#id_topic").fill("")
    page.locator("#id_topic").press_sequentially("datafono", delay=30)
    expect(page.locator("#kb-suggestions")).to_have_attribute("data-answered", "datafono")
    expect(page.locator("#kb-suggestions a").first).to_be_visible()  # the suggestions are shown
    page.keyboard.press("Tab")
    expect(page.locator("#chat-start-form button[type=submit]")).to_be_focused()


def test_a_forgotten_password_is_reset_by_keyboard_from_the_login_page(anonymous, stack):
    """The whole reset as a user does it, with the keyboard: the login page's link, the form, the
    e-mail (the live stack writes it to a file), the link, a new password, a login with it."""
    page = anonymous
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "es", "url": stack.url}])
    page.goto("/accounts/login/")
    page.get_by_role("link", name="¿Has olvidado la contraseña?").focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Restablecer la contraseña")
    page.locator("#id_email").focus()
    page.keyboard.type("fran_norte@example.com")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Revisa tu correo")
    mail_dir = stack.work_dir / "mail"
    deadline, link = time.monotonic() + 30, None
    while link is None and time.monotonic() < deadline:
        for path in mail_dir.glob("*") if mail_dir.exists() else []:
            found = RESET_LINK.search(path.read_text(errors="replace"))
            if found and "fran_norte" in path.read_text(errors="replace"):
                link = found.group(1)
        if link is None:
            time.sleep(0.2)  # poll interval of the wait for the e-mail file
    assert link, "no reset e-mail for fran_norte"
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Elige una contraseña nueva")
    page.fill("#id_new_password1", "Nueva-Clave-del-Norte-42")
    page.fill("#id_new_password2", "Nueva-Clave-del-Norte-42")
    page.locator("form.stack button[type=submit]").press("Enter")
    expect(page.locator("h1")).to_have_text("Contraseña cambiada")
    login(page, "fran_norte", "Nueva-Clave-del-Norte-42")
    page.context.clear_cookies()  # the shared anonymous page is anonymous again
    assert page.errors == []
