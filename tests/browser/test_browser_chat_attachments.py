"""Chat attachments in a real browser: a franchisee sends a screenshot of the TPV from the chat
box and the agent sees its thumbnail live; a refused file says why."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

SEED = """
from accounts.models import User
from chat import services
from tests.tickets_factories import make_ticket
carmen = User.objects.get(username="fran_centro")
ana = User.objects.get(username="agent_a")
chat = services.start_conversation(franchisee=carmen, topic="El TPV muestra un error")
services.accept_conversation(conversation_id=chat.pk, agent=ana)
ticket = make_ticket(carmen, subject="El TPV no arranca")
result = {"chat": chat.pk, "ticket": ticket.pk}
"""


def test_screenshot_in_chat_reaches_the_agent_live(open_as, live, tmp_path):
    seeded = live.run_django(SEED)
    image = tmp_path / "pantalla-tpv.png"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 500), "teal").save(buffer, "PNG")
    image.write_bytes(buffer.getvalue())

    ana = open_as("agent_a")
    ana.goto(f"/chat/{seeded['chat']}/")
    expect(ana.locator("#chat-connection")).to_have_attribute("data-state", "online")
    carmen = open_as("fran_centro")
    carmen.goto(f"/chat/{seeded['chat']}/")
    expect(carmen.locator("#chat-connection")).to_have_attribute("data-state", "online")

    carmen.set_input_files("#chat-file", str(image))
    received = ana.locator("#chat-messages li .chat-attachment", has_text="pantalla-tpv.png")
    expect(received).to_be_visible()
    expect(ana.locator("#chat-messages li", has=received).locator("p.body")).to_be_hidden()  # no caption
    thumb = received.locator("img")
    expect(thumb).to_have_attribute("src", re.compile(r"^/chat/\d+/attachments/\d+/thumbnail/$"))
    ana.wait_for_function("img => img.complete && img.naturalWidth === 480", arg=thumb.element_handle())
    expect(received.locator("a").last).to_have_attribute("href", re.compile(r"^/chat/\d+/attachments/\d+/$"))
    expect(carmen.locator("#chat-messages li.mine .chat-attachment", has_text="pantalla-tpv.png")).to_be_visible()
    screenshot(ana, "chat-attachment")

    # A refused file says why, and nothing is sent.
    bad = tmp_path / "notas.txt"
    bad.write_text("hola")
    carmen.set_input_files("#chat-file", str(bad))
    expect(carmen.locator("#chat-error")).to_contain_text("imágenes y PDF")
    expect(ana.locator("#chat-messages li .chat-attachment")).to_have_count(1)

    # Reloading shows the same thumbnail from the page itself.
    ana.reload()
    expect(ana.locator("#chat-messages li .chat-attachment img")).to_have_count(1)
    assert not ana.errors and not carmen.errors
