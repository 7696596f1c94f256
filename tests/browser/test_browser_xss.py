"""XSS corpus, rendered in Chromium: no dialog fires, no injected element exists.

The corpus (tests/xss_vectors.py) is stored in every user-writable field of a live stack; the
pages that show those fields are opened as the franchisee who wrote them and as an agent, with
the Content-Security-Policy *bypassed*, so the test proves the escaping and sanitizing alone
(the CSP is a second wall, checked by tests/test_security_csp.py). The chat and notification UIs
are exercised live: payloads typed into the chat reach the other side through the WebSocket,
the bell renders them from its JSON catch-up, search-as-you-type renders them from /kb/suggest/.
Reflected input (search queries) is covered server-side by tests/test_security_xss.py.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import VIEWPORT, screenshot
from tests.browser.livestack import LiveStack
from tests.xss_vectors import VECTORS

pytestmark = pytest.mark.browser

ARM = "window.__xssFired = []; window.__xss = function (n) { window.__xssFired.push(n); };"
# The marker elements a vector left in the page, named by their id (xss-N: vector N) where they have one.
INJECTED = """Array.from(document.querySelectorAll('[data-xss], [id^="xss-"]'),
                   (el) => el.id || el.outerHTML.slice(0, 80))"""
BUILD = "from tests.xss_vectors import build_corpus\nresult = build_corpus()\n"
SESSIONS = """
from accounts.models import User
from tests.servers import session_cookie
result = {u.username: session_cookie(u) for u in User.objects.filter(username__in=params["usernames"])}
"""
OPEN_CHAT = """
from accounts.models import User
from chat import services
conversation = services.start_conversation(franchisee=User.objects.get(username="fran_centro"), topic=params["topic"])
services.accept_conversation(conversation_id=conversation.pk, agent=User.objects.get(username="agent_a"))
result = conversation.pk
"""


class Watch:
    """Arms a browser context: records dialogs and calls of window.__xss from any page."""

    def __init__(self, browser: Browser, base_url: str, session: str) -> None:
        self.dialogs: list[str] = []
        self.base_url = base_url
        self.context: BrowserContext = browser.new_context(
            base_url=base_url, viewport=VIEWPORT, locale="es-ES", bypass_csp=True
        )
        self.context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
        self.context.add_init_script(ARM)
        self.page: Page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.pages_checked = 0

    def sign_in_as(self, session: str) -> None:
        """Another user in the same context: only their session cookie, and none of the storage of
        the user before (as a context of their own starts). One context for the 40 franchisees,
        not one each: a new context is a new renderer process and a cold cache (a quarter of the
        test's time went to making them and to the first page of each)."""
        if self.page.url.startswith(self.base_url):
            self.page.evaluate("() => { window.localStorage.clear(); window.sessionStorage.clear(); }")
        self.context.clear_cookies()
        self.context.add_cookies([{"name": "sessionid", "value": session, "url": self.base_url}])

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, url: str, vector: int | None = None) -> list[str]:
        self.page.goto(url, wait_until="domcontentloaded")  # deferred scripts have run by then
        return self.check(url if vector is None else f"vector {vector}: {url}")

    def check(self, where: str) -> list[str]:
        self.pages_checked += 1
        fired = self.page.evaluate("window.__xssFired")
        injected = self.page.evaluate(INJECTED)
        problems = []
        if fired:
            problems.append(f"{where}: window.__xss ran for vectors {fired}")
        if injected:
            problems.append(f"{where}: {len(injected)} injected element(s) {injected}")
        if self.dialogs:
            problems.append(f"{where}: dialog(s) {self.dialogs}")
            self.dialogs.clear()
        return problems


def _sessions(live, usernames: list[str]) -> dict[str, str]:
    return live.run_django(SESSIONS, usernames=usernames)


@pytest.mark.slow
def test_stored_vectors_are_inert_in_every_page(browser, live):
    corpus = live.run_django(BUILD)
    items = corpus["items"]
    sessions = _sessions(live, [corpus["viewer"], *(item["owner"] for item in items)])
    problems: list[str] = []
    checked = 0

    watch = Watch(browser, live.url, sessions[items[0]["owner"]])
    for item in items:  # each vector's own franchisee (its franchise and first name hold it too)
        watch.sign_in_as(sessions[item["owner"]])
        for url in (
            f"/tickets/{item['ticket']}/",
            f"/tickets/{item['chat_ticket']}/",
            f"/chat/{item['conversation']}/",
            f"/kb/{item['article']}/",
        ):
            problems += watch.visit(url, vector=item["number"])
        watch.page.click("#notification-bell-toggle")  # the bell renders titles from its JSON catch-up
        expect(watch.page.locator("#notification-dropdown .bell-item").first).to_be_visible()
        problems += watch.check(f"vector {item['number']}: bell dropdown of {item['owner']}")
    checked += watch.pages_checked
    watch.context.close()

    agent = Watch(browser, live.url, sessions[corpus["viewer"]])
    for url in ("/agent/?view=open", "/agent/?view=open&page=2", "/chat/", "/kb/", "/kb/review/", "/tickets/"):
        problems += agent.visit(url)
    for item in items[::4]:
        for url in (f"/tickets/{item['ticket']}/", f"/chat/{item['conversation']}/", f"/kb/{item['article']}/edit/"):
            problems += agent.visit(url)
    screenshot(agent.page, "xss-corpus-agent-view")
    checked += agent.pages_checked
    agent.context.close()
    print(f"\nXSS (browser): {len(VECTORS)} vectors, {checked} page renders checked")
    assert not problems, "\n".join(problems[:40])


@pytest.fixture
def live_fast_chat(tmp_path):
    """The usual live stack, with the chat flood limit raised: 40 messages are typed in seconds."""
    stack = LiveStack(tmp_path / "stack", seed=True, env_extra={"LIVE_CHAT_RATE_LIMIT": "1000"}).start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def test_vectors_typed_live_into_chat_and_search_as_you_type_are_inert(browser, live_fast_chat):
    live = live_fast_chat
    conversation = live.run_django(OPEN_CHAT, topic=VECTORS[0].payload)
    sessions = _sessions(live, ["fran_centro", "agent_a"])
    franchisee = Watch(browser, live.url, sessions["fran_centro"])
    agent = Watch(browser, live.url, sessions["agent_a"])
    agent.visit(f"/chat/{conversation}/")
    franchisee.visit(f"/chat/{conversation}/")
    expect(franchisee.page.locator("#chat-connection")).to_have_attribute("data-state", "online")
    expect(agent.page.locator("#chat-connection")).to_have_attribute("data-state", "online")

    for vector in VECTORS:
        franchisee.page.fill("#chat-body", vector.payload)
        franchisee.page.click("#chat-compose button[type=submit]")
    last = VECTORS[-1].payload
    expect(agent.page.locator("#chat-messages li.user p.body").last).to_have_text(last, timeout=20_000)
    expect(agent.page.locator("#chat-messages li.user p.body")).to_have_count(len(VECTORS), timeout=20_000)
    problems = franchisee.check("chat (franchisee, live)") + agent.check("chat (agent, live frames)")
    screenshot(agent.page, "xss-chat-live")

    # Search-as-you-type renders titles and snippets from JSON: type vectors into the ticket form.
    live.run_django(
        BUILD.replace("build_corpus()", "build_corpus(VECTORS[:8])").replace(
            "import build_corpus", "import VECTORS, build_corpus"
        )
    )
    page = franchisee.page
    page.goto("/tickets/new/")
    for vector in VECTORS[:8]:
        page.fill("#id_subject", "")
        typed = re.sub(r"\s+", " ", vector.payload)[:60]
        page.type("#id_subject", typed, delay=5)
        if len(typed.strip()) >= 3:  # suggest.js asks from MIN_CHARS (3) on: wait for that answer
            expect(page.locator("#kb-suggestions")).to_have_attribute("data-answered", typed.strip()[:200])
        problems += franchisee.check(f"ticket form suggestions for vector {vector.number}")
    franchisee.context.close()
    agent.context.close()
    assert not problems, "\n".join(problems)
