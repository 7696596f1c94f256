"""The site's pages for the suites that visit every page of both roles (issue 17).

tests/browser/test_browser_mobile.py (widths, touch targets) and tests/browser/test_browser_a11y.py
(axe-core, the Nu HTML checker) both walk PAGES on one seeded live stack: a new page is one line
here. `{name}` in a path is a URL the seed returns.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from playwright.sync_api import Browser, Page

from tests.browser.conftest import login, new_context
from tests.browser.livestack import LiveStack

SEED = """
from accounts.models import User
from api.models import WebhookEndpoint
from api.tokens import create_token
from chat import services as chat
from knowledge_base import services as kb
from knowledge_base.models import Article, Category
from notifications.services import notify
from tickets import services as tickets

fran = User.objects.get(username="fran_centro")
agent = User.objects.get(username="agent_a")
boss = User.objects.get(username="boss")
category = Category.objects.create(name="Terminal de pago y datáfono", name_en="Card terminal", slug="datafono")
article = kb.create_article(
    actor=agent, title="El datáfono no conecta con el banco después de la actualización nocturna",
    body="## Pasos\\n\\n1. Reinicia el datáfono.\\n2. Comprueba el cable de red: `ping 192.168.1.1`.\\n\\n"
         "| Paso | Qué ver | Tiempo estimado |\\n|---|---|---|\\n"
         "| Reinicio | Pantalla de inicio con el logotipo | 2 minutos |\\n",
    status=Article.Status.PUBLISHED, category=category, tags="datáfono, red, banco",
)
kb.create_article(  # its translation: the article page links it ("Also in English")
    actor=agent, title="The card terminal cannot reach the bank after the night update",
    body="Restart the card terminal, then check the network cable.", status=Article.Status.PUBLISHED,
    category=category, language="en", tags="card terminal, network", translation=article,
)
long_subject = "La impresora de la cocina imprime los pedidos duplicados desde el cambio de rollo térmico"
first = tickets.create_ticket(actor=fran, subject=long_subject,
                              description="Desde esta mañana **todos** los pedidos salen dos veces.")
for n in range(4):
    subject = f"Consulta número {n} sobre la facturación mensual de la franquicia"
    tickets.create_ticket(actor=fran, subject=subject, description="Texto.")
tickets.claim(ticket=first, actor=agent)
tickets.add_comment(ticket=first, actor=agent,
                    body="Estamos revisando el *driver* de la impresora; te escribimos en cuanto sepamos más.")
conversation = chat.start_conversation(franchisee=fran, topic="No puedo cerrar la caja del turno de tarde")
chat.accept_conversation(conversation_id=conversation.pk, agent=agent)
for n in range(12):
    author = fran if n % 2 == 0 else agent
    chat.post_message(conversation_id=conversation.pk, author=author, client_id=f"seed-{n}", broadcast=False,
                      body=f"Mensaje {n}: la caja dice que falta un arqueo pendiente del turno anterior.")
for user in (fran, agent, boss):
    for n in range(3):
        notify(recipient=user, kind="ticket_status", title=f"Tu ticket {first.number} ha cambiado de estado ({n})",
               body="El ticket pasó a «En curso»: un agente lo está revisando.", url=first.get_absolute_url())
tickets.add_comment(ticket=first, actor=agent, internal=True, body="Nota interna: revisar el driver 2.3.")
draft = kb.create_article(actor=agent, title="Borrador: reiniciar el router de la tienda", body="Pasos por escribir.")
waiting = chat.start_conversation(franchisee=fran, topic="La balanza no imprime etiquetas")
from macros.services import create_macro
macro = create_macro(actor=agent, name="saludo", body="Hola {nombre}, lo miramos ahora mismo.")
create_token(user=agent, name="ERP de la central")
hook = WebhookEndpoint.objects.create(url="https://erp.example.com/hooks/portal-support-events",
                                      events=["ticket.created"], description="ERP", created_by=boss)
result = {"ticket": first.get_absolute_url(), "chat": conversation.get_absolute_url(),
          "waiting_chat": waiting.get_absolute_url(), "draft": draft.get_absolute_url(),
          "draft_history": f"/kb/{draft.slug}/history/", "macro_edit": f"/agent/macros/{macro.pk}/edit/",
          "article": article.get_absolute_url(), "article_edit": article.get_edit_url(),
          "webhook": f"/api/webhooks/{hook.pk}/"}
"""

# (user, page name, path or {seeded url}); the page name is the screenshot's name.
PAGES = [
    ("fran_centro", "home", "/"),
    ("fran_centro", "tickets", "/tickets/"),
    ("fran_centro", "ticket-new", "/tickets/new/"),
    ("fran_centro", "ticket-detail", "{ticket}"),
    ("fran_centro", "chat-start", "/chat/"),
    ("fran_centro", "chat-conversation", "{chat}"),
    ("fran_centro", "kb-index", "/kb/"),
    ("fran_centro", "kb-article", "{article}"),
    ("fran_centro", "kb-search", "/kb/search/?q=datafono"),
    ("fran_centro", "kb-search-empty", "/kb/search/?q=zzqxv+inexistente"),
    ("fran_centro", "notifications", "/notifications/"),
    ("fran_centro", "notification-preferences", "/notifications/preferences/"),
    ("fran_centro", "chat-waiting", "{waiting_chat}"),
    ("fran_centro", "profile", "/accounts/profile/"),
    ("fran_centro", "password-change", "/accounts/password/"),
    ("agent_a", "agent-dashboard", "/agent/"),
    ("agent_a", "saved-views", "/agent/views/"),
    ("agent_a", "agent-tickets", "/tickets/"),
    ("agent_a", "agent-ticket-detail", "{ticket}"),
    ("agent_a", "agent-chats", "/chat/"),
    ("agent_a", "agent-chat-conversation", "{chat}"),
    ("agent_a", "kb-editor", "{article_edit}"),
    ("agent_a", "kb-new", "/kb/new/"),
    ("agent_a", "kb-review", "/kb/review/"),
    ("agent_a", "kb-draft", "{draft}"),
    ("agent_a", "kb-history", "{draft_history}"),
    ("agent_a", "kb-gaps", "/kb/gaps/"),
    ("agent_a", "macros", "/agent/macros/"),
    ("agent_a", "macro-new", "/agent/macros/new/"),
    ("agent_a", "macro-edit", "{macro_edit}"),
    ("agent_a", "agent-chat-waiting", "{waiting_chat}"),
    ("agent_a", "agent-notifications", "/notifications/"),
    ("agent_a", "api-tokens", "/api/tokens/"),
    ("agent_a", "agent-profile", "/accounts/profile/"),
    ("boss", "supervisor-dashboard", "/agent/"),
    ("boss", "reports-figures", "/agent/reports/figures/"),
    ("boss", "reports-audit", "/agent/reports/audit/"),
    ("boss", "webhooks", "/api/webhooks/"),
    ("boss", "webhook-detail", "{webhook}"),
]

# Pages an anonymous visitor sees (login, password reset).
ANONYMOUS_PAGES = [
    ("login", "/accounts/login/"),
    ("password-reset", "/accounts/password/reset/"),
    ("password-reset-done", "/accounts/password/reset/done/"),
]


def url(stack: LiveStack, path: str) -> str:
    return path.format(**stack.urls)


def start_site(work: Path) -> Iterator[LiveStack]:
    """A live stack with the people and SEED's data (for a module-scoped fixture)."""
    live = LiveStack(work, seed=True).start()
    try:
        live.urls = live.run_django(SEED)
        yield live
    finally:
        live.stop()
        shutil.rmtree(work, ignore_errors=True)


def page_opener(browser: Browser, stack: LiveStack, after_login: Callable[[Page], None] | None = None) -> Iterator:
    """Yields open(username) -> that user's logged-in Page (one context per user, reused);
    `after_login(page)` runs once per new page (e.g. switch the language)."""
    opened: dict[str, Page] = {}

    def _page(username: str) -> Page:
        if username not in opened:
            context = new_context(browser, stack)
            page = context.new_page()
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            opened[username] = login(page, username)
            if after_login is not None:
                after_login(opened[username])
        return opened[username]

    yield _page
    for page in opened.values():
        page.context.close()
