"""Browser check of suggest.js: safe rendering of suggestions and deflection recording.

Run with the other browser tests: `make test-browser` (pytest -m browser -p no:asyncio).
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from knowledge_base import services
agent = User.objects.get(username="agent_a")
services.create_article(actor=agent, title="He olvidado la contraseña", body="Pulsa «olvidé» <script>x</script>",
                        status="published")
services.create_article(actor=agent, title="<img src=x onerror=alert(1)> contraseña rara", body="contraseña",
                        status="published")
result = 1
"""
DEFLECTIONS = """
from knowledge_base.models import Deflection
result = list(Deflection.objects.values_list("article__slug", "user__username"))
"""


def test_ticket_form_suggestions_are_safe_and_clicks_are_recorded(live, open_as):
    live.run_django(SEED)
    page = open_as("fran_centro")
    page.goto("/tickets/new/")
    page.type("#id_subject", "contrasena olvidada", delay=30)
    link = page.locator("#kb-suggestions a", has_text="He olvidado la contraseña")
    expect(link).to_be_visible()
    expect(page.locator("#kb-suggestions a", has_text="<img src=x onerror=alert(1)>")).to_be_visible()
    assert page.locator("#kb-suggestions img, #kb-suggestions script").count() == 0
    assert page.locator("#kb-suggestions mark").count() >= 1
    with page.context.expect_page() as opened:  # suggestions open in a new tab: the form is kept
        link.click()
    opened.value.wait_for_load_state()
    # The click is recorded by a background request: poll the database until it is there.
    deadline = time.monotonic() + 20
    while (recorded := live.run_django(DEFLECTIONS)) == [] and time.monotonic() < deadline:
        pass
    assert recorded == [["he-olvidado-la-contrasena", "fran_centro"]]
    assert page.input_value("#id_subject") == "contrasena olvidada"
    assert page.errors == []
