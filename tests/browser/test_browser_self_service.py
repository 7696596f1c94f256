"""Scenario 7.2 — self-service: a franchisee finds the answer in the knowledge base.

Searches without accents and with a typo, opens the right article, marks it helpful; the
ticket form's search-as-you-type suggests the same article.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

ARTICLES = """
from accounts.models import User
from knowledge_base import services
from knowledge_base.models import Article
agent = User.objects.get(username="agent_a")
for title, body, tags in params["articles"]:
    services.create_article(actor=agent, title=title, body=body, tags=tags, status=Article.Status.PUBLISHED)
result = Article.objects.filter(status="published").count()
"""

PASSWORD_ARTICLE = "He olvidado la contraseña del back-office"


@pytest.fixture
def knowledge_base(live):
    articles = [
        (PASSWORD_ARTICLE, "Pulsa «He olvidado mi contraseña» en la pantalla de acceso y sigue el correo.",
         "contraseña, acceso"),
        ("La impresora de tickets no imprime", "Revisa el rollo de papel térmico y cierra bien la tapa.",
         "impresora, papel"),
        ("El datáfono no tiene conexión", "Comprueba el cable de red y reinicia el datáfono.", "datáfono, red"),
        ("Actualización del TPV bloqueada", "Espera a que termine la actualización antes de apagar.", "tpv"),
    ]  # fmt: skip
    assert live.run_django(ARTICLES, articles=articles) == len(articles)
    return live


def _first_hit(page):
    return page.locator(".kb-hit h2 a").first


def test_self_service_search_article_feedback_and_ticket_suggestions(knowledge_base, open_as):
    page = open_as("fran_centro")
    page.goto("/kb/")

    # Without accents: «contrasena» finds «contraseña».
    page.fill("#kb-q", "olvide la contrasena")
    page.press("#kb-q", "Enter")
    page.wait_for_url("**/kb/search/**")
    expect(_first_hit(page)).to_have_text(PASSWORD_ARTICLE)
    expect(page.locator(".kb-hit mark").first).to_be_visible()
    screenshot(page, "kb-search")

    # With a typo: «impresra» still finds the printer article.
    page.fill("#kb-q", "la impresra no imprime")
    page.press("#kb-q", "Enter")
    page.wait_for_url("**q=la+impresra**")
    expect(_first_hit(page)).to_have_text("La impresora de tickets no imprime")

    # Back to the password article: open it and mark it helpful.
    page.goto("/kb/search/?q=contrasena")
    _first_hit(page).click()
    expect(page.locator("h1")).to_have_text(PASSWORD_ARTICLE)
    page.check(".kb-feedback input[name=helpful][value=yes]")
    page.click(".kb-feedback button[type=submit]")
    expect(page.locator(".kb-feedback")).to_contain_text("te ha resultado útil")
    screenshot(page, "kb-article")

    # Search-as-you-type in the ticket form suggests it before the franchisee opens a ticket.
    page.goto("/tickets/new/")
    page.type("#id_subject", "no recuerdo la contrasena", delay=30)
    suggestion = page.locator("#kb-suggestions a", has_text=PASSWORD_ARTICLE)
    expect(suggestion).to_be_visible()
    screenshot(page, "ticket-form-suggestions")
    assert page.errors == []
