"""Scenario 7.1 in two real browsers (Chromium): franchisee and agent chat live on one Daphne.

Run on its own: `make test-browser` (pytest -m browser -p no:asyncio).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT, daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SETUP = """
import json, django
django.setup()
from accounts.services import save_franchise, save_user
from chat import services
from tests.servers import session_cookie
centro = save_franchise(code="centro", name="Franquicia Centro")[0]
fran = save_user(
    username="fran_b", role="franchisee", franchise=centro, password="Xx-12345-pass", first_name="Lucía"
)[0]
agent = save_user(username="agent_b", role="agent", password="Xx-12345-pass", first_name="Ana")[0]
conversation = services.start_conversation(franchisee=fran, topic="La caja no abre")
services.accept_conversation(conversation_id=conversation.pk, agent=agent)
print(json.dumps({"conversation": conversation.pk, "fran": session_cookie(fran), "agent": session_cookie(agent)}))
"""


def test_two_browsers_chat_live(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    env = {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "support_portal.settings",
        "PYTHONPATH": str(ROOT),
    }
    run = {"cwd": ROOT, "env": {**os.environ, **env}, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run)
    data = json.loads(subprocess.run([sys.executable, "-c", SETUP], **run).stdout.strip().splitlines()[-1])
    with daphne(env, log_path=tmp_path / "daphne.log") as (port, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        base = f"http://127.0.0.1:{port}"
        pages = {}
        for who in ("fran", "agent"):
            context = browser.new_context(locale="es-ES")
            context.add_cookies([{"name": "sessionid", "value": data[who], "url": base}])
            page = context.new_page()
            page.goto(f"{base}/chat/{data['conversation']}/")
            expect(page.locator("#chat-connection")).to_have_attribute("data-state", "online")
            pages[who] = page
        fran, agent = pages["fran"], pages["agent"]

        fran.fill("#chat-body", "<b>Hola</b>, la caja no abre")
        fran.press("#chat-body", "Enter")
        received = agent.locator("#chat-messages li.chat-msg.user .body", has_text="la caja no abre")
        expect(received).to_have_count(1)
        assert received.inner_html() == "&lt;b&gt;Hola&lt;/b&gt;, la caja no abre"  # text, never HTML

        agent.type("#chat-body", "Vamos a mirarlo")
        expect(fran.locator("#chat-typing")).to_be_visible()
        agent.press("#chat-body", "Enter")
        expect(fran.locator("#chat-messages .body", has_text="Vamos a mirarlo")).to_have_count(1)
        # the agent's page is visible and read the franchisee's message: ✓✓ on the franchisee's side
        expect(fran.locator("li.mine .tick[data-state='read']").first).to_be_visible()
        # no reload happened and nothing is shown twice
        expect(agent.locator("#chat-messages li.user .body", has_text="la caja no abre")).to_have_count(1)
        browser.close()
