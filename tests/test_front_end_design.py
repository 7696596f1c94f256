"""Issue 17, the server side of the mobile-first design: the header menu's markup, the web app
manifest and icons (served from our own static files), the zero-result search block, the
new-ticket suggestions before the submit button. The layout itself is measured in a real
browser: tests/browser/test_browser_mobile.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_has_the_menu_button_the_manifest_and_the_icons(franchisee_client):
    page = franchisee_client.get("/").content.decode()
    button = re.search(r'<button type="button" class="nav-toggle"[^>]*>', page).group(0)
    assert 'aria-expanded="false"' in button and 'aria-controls="site-menu"' in button
    assert 'id="site-menu"' in page and "js/menu.js" in page
    assert re.search(r'<link rel="manifest" href="/static/manifest[^"]*\.webmanifest">', page)
    assert re.search(r'<link rel="icon" href="/static/icons/favicon[^"]*\.ico"', page)
    assert re.search(r'<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon[^"]*\.png"', page)
    assert "interactive-widget=resizes-content" in page
    assert "https://" not in re.sub(r"<a [^>]*>", "", page.split("<body")[0])  # no CDN in <head>


def test_the_login_page_has_the_menu_too(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'id="nav-toggle"' in page and 'id="language-select"' in page


def test_the_manifest_and_its_icons_exist_and_are_our_static_files():
    manifest = json.loads(Path(finders.find("manifest.webmanifest")).read_text())
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        path = finders.find(icon["src"])
        assert path, icon["src"]
        if icon["type"] == "image/png":
            from PIL import Image

            width, height = Image.open(path).size
            assert f"{width}x{height}" == icon["sizes"]
    for name in ("icons/favicon.ico", "icons/apple-touch-icon.png", "icons/icon.svg"):
        assert finders.find(name), name


def test_zero_result_search_renders_the_ticket_and_chat_block(franchisee_client):
    page = franchisee_client.get("/kb/search/", {"q": "zzqxv palabra inexistente"}).content.decode()
    assert "kb-no-results" in page
    assert 'href="/tickets/new/"' in page and 'href="/chat/"' in page
    assert "0 resultados" in page


def test_new_ticket_suggestions_come_before_the_submit_button(franchisee_client):
    page = franchisee_client.get("/tickets/new/").content.decode()
    subject = page.index('name="subject"')
    suggestions = page.index('id="kb-suggestions"')
    submit = page.index("Enviar ticket")
    assert subject < suggestions < submit


def test_design_tokens_have_aa_contrast():
    """The colour pairs the stylesheet uses for text, borders and focus rings meet WCAG AA."""
    css = (ROOT / "static/css/portal.css").read_text()
    tokens = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def ratio(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    text_pairs = [("fg", "bg"), ("muted", "bg"), ("muted", "card"), ("brand", "card"), ("brand", "bg"),
                  ("ok", "ok-soft"), ("warn", "warn-soft"), ("danger", "danger-soft"), ("fg", "neutral-soft"),
                  ("brand-dark", "brand-soft")]  # fmt: skip
    for fg, bg in text_pairs:
        assert ratio(tokens[fg], tokens[bg]) >= 4.5, (fg, bg)
    assert ratio("#ffffff", tokens["brand"]) >= 4.5  # header text and primary buttons
    for ring, bg in [("focus", "card"), ("focus", "bg"), ("focus-on-brand", "brand"), ("field-line", "card")]:
        assert ratio(tokens[ring], tokens[bg]) >= 3, (ring, bg)
