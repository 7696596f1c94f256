"""The bell in a real browser: live counter, dropdown, tab title, catch-up after a dropped socket.

A live stack with Redis, so a notify() run in another process (as any app's request or a Celery
worker would) reaches the Daphne process the browser is connected to.
"""

import re
import shutil
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login, new_context, screenshot
from tests.browser.livestack import LiveStack

pytestmark = pytest.mark.browser

NOTIFY = """
from accounts.models import User
from notifications.services import notify
user = User.objects.get(username=params["username"])
result = notify(recipient=user, kind="ticket_status", title=params["title"], body=params.get("body", ""),
                url="/notifications/").pk
"""


@pytest.fixture
def redis_stack(tmp_path):
    stack = LiveStack(tmp_path / "stack", redis=True, seed=True).start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "stack", ignore_errors=True)


def socket_open(page) -> None:
    """Wait until the bell's socket is open (bell.js marks it on the bell's element)."""
    expect(page.locator("#notification-bell")).to_have_attribute("data-socket", "open")


def pump_until(page, condition, timeout: float = 10.0) -> None:
    """Let Playwright dispatch events (route handlers) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        page.evaluate("1")


@pytest.mark.slow
def test_the_bell_updates_live_and_catches_up_after_a_dropped_socket(browser, redis_stack):
    context = new_context(browser, redis_stack)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, "fran_centro")
    count = page.locator("#notification-count")
    expect(count).to_be_hidden()
    page.evaluate("window.seen = []; document.addEventListener('portal:notification', e => window.seen.push(e.detail))")
    socket_open(page)

    payload = "<img src=x onerror=alert(1)>Tu ticket #7 está resuelto"
    redis_stack.run_django(NOTIFY, username="fran_centro", title=payload, body="<b>hecho</b>")
    expect(count).to_have_text("1")
    assert page.title().startswith("(1) ")
    assert page.evaluate("window.seen.length") == 1
    assert page.evaluate("window.seen[0].title") == payload

    page.click("#notification-bell-toggle")
    item = page.locator(".bell-item").first
    expect(item).to_contain_text(payload)  # shown as text, never as markup
    assert page.locator(".bell-list img").count() == 0
    screenshot(page, "notifications-bell")

    # A notification sent while the server is down is not lost: the bell reconnects and catches up.
    redis_stack.daphnes[0].kill()
    redis_stack.run_django(NOTIFY, username="fran_centro", title="Mientras estabas desconectado")
    redis_stack.restart_daphne(0, kill=False)
    expect(count).to_have_text("2", timeout=60_000)  # the reconnect backoff reaches 30 s
    expect(page.locator(".bell-item").first).to_contain_text("Mientras estabas desconectado")

    # The list page shows both; mark all read from the dropdown: counter and title clear.
    page.goto("/notifications/")
    expect(page.locator(".notif-item.unread")).to_have_count(2)
    screenshot(page, "notifications-list")
    page.click("#notification-bell-toggle")
    # The counter clears at once; the server's answer may come later (keepalive): wait for it
    # before reading the list, or the next page can be served before the change is stored.
    with page.expect_response(lambda response: "/read-all/" in response.url and response.ok):
        page.click("[data-bell-read-all]")
    expect(count).to_be_hidden()
    assert not page.title().startswith("(")
    page.goto("/notifications/?unread=1")
    expect(page.locator(".notif-empty")).to_be_visible()
    assert errors == []
    context.close()


def test_another_users_tab_gets_nothing(browser, redis_stack):
    context = new_context(browser, redis_stack)
    page = login(context.new_page(), "fran_norte")
    socket_open(page)
    redis_stack.run_django(NOTIFY, username="fran_centro", title="Solo para Centro")
    # Then one for this user, through the same Redis: once it is shown, the other would have been too.
    redis_stack.run_django(NOTIFY, username="fran_norte", title="Para Norte")
    expect(page.locator("#notification-count")).to_have_text("1")
    page.click("#notification-bell-toggle")
    expect(page.locator(".bell-item").first).to_contain_text("Para Norte")
    expect(page.locator(".bell-list")).not_to_contain_text("Solo para Centro")
    context.close()


def test_mark_all_read_is_not_undone_by_a_catch_up_answered_before_it(browser, redis_stack):
    """The race behind a flaky run: opening the dropdown starts a catch-up; "mark all read" is
    clicked before its answer (unread: 2) arrives; that late answer must not bring the counter back."""
    context = new_context(browser, redis_stack)
    page = login(context.new_page(), "fran_centro")
    socket_open(page)
    bell = page.locator("#notification-bell")
    page.wait_for_function("() => Number(document.getElementById('notification-bell').dataset.catchUps) >= 1")
    for title in ("Primera", "Segunda"):
        redis_stack.run_django(NOTIFY, username="fran_centro", title=title)
    count = page.locator("#notification-count")
    expect(count).to_have_text("2")

    # Hold every catch-up: the first with the answer the server gave before "mark all read"
    # (unread: 2), the later ones (the bell resynchronises once the server confirms) until released.
    held = []  # (route, response fetched at once or None)
    released = []

    def hold(route):
        if released:
            route.continue_()
        else:
            held.append((route, None if held else route.fetch()))

    page.route(re.compile(r"/notifications/latest/"), hold)
    with page.expect_request(re.compile(r"/notifications/latest/")):
        page.click("#notification-bell-toggle")
    pump_until(page, lambda: held)
    before = int(bell.get_attribute("data-catch-ups"))
    with page.expect_response(lambda r: r.request.method == "POST" and "read" in r.url) as answer:
        page.click("[data-bell-read-all]")
    assert answer.value.ok
    expect(count).to_be_hidden()

    route, stale = held[0]
    assert stale.json()["unread"] == 2
    route.fulfill(response=stale)
    handled = "n => Number(document.getElementById('notification-bell').dataset.catchUps) >= n"
    page.wait_for_function(handled, arg=before + 1)
    expect(count).to_be_hidden()  # the stale answer was dropped, not applied
    assert not page.title().startswith("(")

    pump_until(page, lambda: len(held) > 1)  # the resynchronising catch-up after the confirmation
    released.append(True)
    for route, _ in held[1:]:
        route.continue_()
    page.wait_for_function(handled, arg=before + 2)
    expect(count).to_be_hidden()
    context.close()


FAKE_NOTIFICATION_API = """
window.__desktop = [];
window.__permissionAsks = 0;
class FakeNotification {
  constructor(title, options) { window.__desktop.push({title: title, body: options.body}); }
  close() {}
}
FakeNotification.permission = localStorage.getItem("fake-permission") || "default";
FakeNotification.requestPermission = function () {
  window.__permissionAsks += 1;
  FakeNotification.permission = "granted";
  localStorage.setItem("fake-permission", "granted");  // the browser remembers the answer
  return Promise.resolve("granted");
};
window.Notification = FakeNotification;
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", { get: function () { return window.__hidden; } });
"""


def test_desktop_notifications_ask_once_and_show_only_when_the_tab_is_hidden(browser, redis_stack):
    context = new_context(browser, redis_stack)
    context.add_init_script(FAKE_NOTIFICATION_API)
    page = login(context.new_page(), "agent_a")
    toggle = page.locator("#notification-bell-toggle")
    assert page.evaluate("window.__permissionAsks") == 0  # never without a user gesture
    toggle.click()  # the first click on the bell asks
    toggle.click()
    assert page.evaluate("window.__permissionAsks") == 1
    page.reload()
    toggle.click()
    assert page.evaluate("window.__permissionAsks") == 0  # asked once, not on every page
    toggle.click()
    socket_open(page)

    redis_stack.run_django(NOTIFY, username="agent_a", title="Visible: sin aviso de escritorio")
    expect(page.locator("#notification-count")).to_have_text("1")
    assert page.evaluate("window.__desktop") == []

    page.evaluate("window.__hidden = true")
    redis_stack.run_django(NOTIFY, username="agent_a", title="Oculta: aviso de escritorio", body="cuerpo")
    expect(page.locator("#notification-count")).to_have_text("2")
    assert page.evaluate("window.__desktop") == [{"title": "Oculta: aviso de escritorio", "body": "cuerpo"}]
    context.close()
