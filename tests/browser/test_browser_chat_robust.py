"""The chat page never blocks behind a refused message and backs off on repeated failures (issue 11).

Before: a half emoji (a lone UTF-16 surrogate) killed the socket with 1011; chat.js reset its
backoff on every open, so it reconnected about every second forever, resending the same message,
while the messages typed after it waited behind it in the outbox.
"""

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ACTIVE_CHAT = """
from accounts.models import User
from chat import services
franchisee = User.objects.get(username="fran_centro")
conversation = services.start_conversation(franchisee=franchisee, topic="Emoji partido")
services.accept_conversation(conversation_id=conversation.pk, agent=User.objects.get(username="agent_a"))
result = conversation.pk
"""


def _submit(page, text: str) -> None:
    """Type `text` as the browser holds it (a JS string may hold a lone surrogate) and send it."""
    page.evaluate(
        "(text) => { const i = document.querySelector('#chat-body'); i.value = text; "
        "document.querySelector('#chat-compose').requestSubmit(); }",
        text,
    )


def test_a_refused_half_emoji_is_shown_failed_and_the_next_messages_go_through(live, open_as):
    conversation = live.run_django(ACTIVE_CHAT)
    page = open_as("fran_centro")
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url) if "/ws/chat/" in ws.url else None)
    page.goto(f"/chat/{conversation}/")
    expect(page.locator("#chat-connection")).to_have_attribute("data-state", "online")

    page.evaluate("() => { window.halfEmoji = 'roto \\ud83d'; }")
    page.evaluate(
        "() => { const i = document.querySelector('#chat-body'); i.value = window.halfEmoji; "
        "document.querySelector('#chat-compose').requestSubmit(); }"
    )
    _submit(page, "segundo mensaje")
    _submit(page, "tercer mensaje")

    failed = page.locator("#chat-messages li.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("roto")
    expect(failed.locator("button.chat-edit")).to_be_visible()
    expect(failed.locator("button.chat-discard")).to_be_visible()
    # The following messages were not held back: stored (an id) and shown once each.
    for text in ("segundo mensaje", "tercer mensaje"):
        expect(page.locator("#chat-messages li[data-id]", has_text=text)).to_have_count(1)
    expect(page.locator("#chat-messages li.pending")).to_have_count(0)
    assert len(sockets) == 1, sockets  # the socket stayed open: no reconnect loop
    assert page.evaluate("() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage)[0]))") == []

    # "Edit" puts the text back in the box; "Discard" would drop it.
    failed.locator("button.chat-edit").click()
    expect(page.locator("#chat-messages li.failed")).to_have_count(0)
    assert page.evaluate("() => document.querySelector('#chat-body').value === window.halfEmoji")
    page.fill("#chat-body", "arreglado 😀")
    page.click("#chat-compose button[type=submit]")
    expect(page.locator("#chat-messages li[data-id]", has_text="arreglado 😀")).to_have_count(1)

    page.evaluate("() => { window.halfEmoji2 = 'otro \\udc00'; }")
    page.evaluate(
        "() => { const i = document.querySelector('#chat-body'); i.value = window.halfEmoji2; "
        "document.querySelector('#chat-compose').requestSubmit(); }"
    )
    expect(page.locator("#chat-messages li.failed")).to_have_count(1)
    page.locator("#chat-messages li.failed button.chat-discard").click()
    expect(page.locator("#chat-messages li.failed")).to_have_count(0)
    assert page.errors == []


def test_the_client_backs_off_when_every_connection_fails_soon_after_opening(live, open_as):
    """A server that accepts, then closes (1011) as soon as the client sends its queued message."""
    conversation = live.run_django(ACTIVE_CHAT)
    page = open_as("fran_centro")
    attempts: list[float] = []

    def crash_on_first_frame(ws) -> None:
        attempts.append(time.monotonic())
        ws.on_message(lambda message: ws.close(code=1011, reason="boom"))

    page.add_init_script(
        f"sessionStorage.setItem('chat-outbox-{conversation}', "
        "JSON.stringify([{client_id: 'queued-1', body: 'en cola'}]));"
    )
    page.route_web_socket("**/ws/chat/**", crash_on_first_frame)
    page.goto(f"/chat/{conversation}/")
    deadline = time.monotonic() + 9
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
    # Backoff 1, 2, 4, 8 s (jittered to 50-100 %): at most 5 connections in 9 s. Resetting the
    # backoff on each open made it one every 0.5-1 s (9 or more).
    assert 2 <= len(attempts) <= 5, [round(t - attempts[0], 2) for t in attempts]
