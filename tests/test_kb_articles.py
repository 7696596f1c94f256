"""Knowledge-base articles: pages, visibility, rendering, revisions, feedback, views, deflection, drafts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from knowledge_base import services
from knowledge_base.models import Article, ArticleRevision, Deflection
from knowledge_base.rendering import render_markdown
from knowledge_base.selectors import deflection_count_for, deflection_counts
from knowledge_base.testing import temporary_search_index
from notifications.models import Notification


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


@pytest.fixture
def published(agent):
    return services.create_article(
        actor=agent, title="Cómo cerrar la caja", body="## Pasos\n\n1. Cuenta el efectivo.", status="published",
        tags="cierre, caja", summary="El cierre diario.",
    )  # fmt: skip


@pytest.fixture
def draft(agent):
    return services.create_article(actor=agent, title="Borrador interno", body="Texto sin revisar.")


# --- Rendering -----------------------------------------------------------------


def test_markdown_is_sanitized_with_anchors_and_code():
    html = render_markdown(
        "## Paso uno\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
        "```python\nprint('hola')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert '<h2 id="kb-paso-uno">Paso uno</h2>' in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    assert '<code class="language-python">' in html
    assert "<table>" in html


# --- Pages and visibility --------------------------------------------------------


def test_franchisee_reads_published_article_with_related(published, agent, franchisee_client):
    related = services.create_article(
        actor=agent, title="Arqueo de caja", body="Cuenta.", status="published", tags="caja"
    )
    page = franchisee_client.get(published.get_absolute_url())
    assert page.status_code == 200
    body = page.content.decode()
    assert "Cómo cerrar la caja" in body
    assert 'id="kb-pasos"' in body
    assert related.title in body


def test_draft_is_404_for_franchisee_visible_for_agent(draft, franchisee_client, agent_client):
    assert franchisee_client.get(draft.get_absolute_url()).status_code == 404
    assert agent_client.get(draft.get_absolute_url()).status_code == 200


def test_editor_pages_are_agent_only(published, franchisee_client, agent_client):
    for url in [published.get_edit_url(), f"/kb/{published.slug}/history/", "/kb/new/", "/kb/review/"]:
        assert franchisee_client.get(url).status_code == 404
        assert agent_client.get(url).status_code == 200
    assert franchisee_client.post("/kb/preview/", {"body": "x"}).status_code == 404


def test_index_lists_categories(agent, franchisee_client):
    services.import_article({"slug": "a1", "title": "Uno", "category": "TPV y caja", "body": "x"})
    page = franchisee_client.get("/kb/").content.decode()
    assert "TPV y caja" in page


def test_preview_returns_sanitized_html(agent_client):
    response = agent_client.post("/kb/preview/", {"body": "**hola** <script>x</script>"})
    assert response.status_code == 200
    assert "<strong>hola</strong>" in response.json()["html"]
    assert "<script" not in response.json()["html"]


# --- Editing, revisions, restore ----------------------------------------------------


def test_agent_creates_and_edits_through_the_editor(agent, agent_client):
    response = agent_client.post(
        "/kb/new/",
        {"title": "Nuevo artículo", "body": "Texto", "language": "es", "status": "draft", "review_interval_days": 90},
    )
    article = Article.objects.get(title="Nuevo artículo")
    assert response.status_code == 302 and response["Location"] == article.get_edit_url()
    agent_client.post(
        article.get_edit_url(),
        {"title": "Nuevo artículo", "body": "Texto nuevo", "language": "es", "status": "published",
         "review_interval_days": 90, "note": "corregido"},
    )  # fmt: skip
    article.refresh_from_db()
    assert article.status == "published" and article.body == "Texto nuevo"
    assert article.next_review_at == timezone.localdate() + timedelta(days=90)
    assert list(article.revisions.values_list("number", flat=True)) == [2, 1]


def test_every_change_is_a_revision_with_diff_and_restore(published, agent, agent_client):
    services.update_article(article=published, actor=agent, body="## Pasos\n\n1. Cuenta los billetes.")
    services.update_article(article=published, actor=agent, body="## Pasos\n\n1. Cuenta los billetes.")  # no change
    assert published.revisions.count() == 2
    diff = agent_client.get(f"/kb/{published.slug}/history/2/").content.decode()
    assert "kb-diff-add" in diff and "Cuenta los billetes" in diff and "kb-diff-del" in diff
    response = agent_client.post(f"/kb/{published.slug}/history/1/restore/")
    assert response.status_code == 302
    published.refresh_from_db()
    assert published.body == "## Pasos\n\n1. Cuenta el efectivo."
    assert published.revisions.count() == 3


def test_edit_requires_title(published, agent):
    with pytest.raises(ValidationError):
        services.update_article(article=published, actor=agent, title="   ")
    published.refresh_from_db()
    assert published.title == "Cómo cerrar la caja"


def test_franchisee_cannot_use_services(published, franchisee):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.update_article(article=published, actor=franchisee, title="hack")


# --- Feedback and views ---------------------------------------------------------------


def test_feedback_once_per_user(published, franchisee, franchisee_client):
    url = f"/kb/{published.slug}/feedback/"
    assert franchisee_client.post(url, {"helpful": "no", "comment": "No funciona"}).status_code == 302
    franchisee_client.post(url, {"helpful": "yes"})
    published.refresh_from_db()
    assert (published.helpful_count, published.not_helpful_count) == (0, 1)
    assert published.feedback.get().comment == "No funciona"
    page = franchisee_client.get(published.get_absolute_url()).content.decode()
    assert "no te ha resultado útil" in page


def test_views_counted_once_per_user_per_day(published, franchisee, other_franchisee, franchisee_client):
    franchisee_client.get(published.get_absolute_url())
    franchisee_client.get(published.get_absolute_url())
    services.record_view(article=published, user=other_franchisee)
    published.refresh_from_db()
    assert published.views_count == 2


def test_article_page_query_count(published, franchisee_client, django_assert_max_num_queries):
    franchisee_client.get(published.get_absolute_url())
    with django_assert_max_num_queries(12):
        franchisee_client.get(published.get_absolute_url())


# --- Deflection ---------------------------------------------------------------------------


def test_deflection_counts_after_window_without_ticket(published, franchisee, other_franchisee, franchisee_client):
    from tickets.services import create_ticket

    assert franchisee_client.post(f"/kb/{published.slug}/deflection/").status_code == 204
    assert franchisee_client.post(f"/kb/{published.slug}/deflection/").status_code == 204  # once per day
    services.record_deflection_candidate(article=published, user=other_franchisee)
    assert Deflection.objects.count() == 2
    assert deflection_count_for(published) == 0  # window still open
    create_ticket(actor=other_franchisee, subject="Sigue sin funcionar", description="Nada")
    Deflection.objects.update(created_at=timezone.now() - timedelta(hours=1))
    from tickets.models import Ticket

    Ticket.objects.update(created_at=timezone.now() - timedelta(minutes=50))
    # franchisee opened the article and did not open a ticket: deflected; the other one did.
    assert deflection_count_for(published) == 1
    assert deflection_counts() == [
        {"article_id": published.pk, "title": published.title, "slug": published.slug, "count": 1}
    ]


def test_deflection_needs_csrf_and_login(published, franchisee, client):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(franchisee)
    assert csrf_client.post(f"/kb/{published.slug}/deflection/").status_code == 403
    assert client.post(f"/kb/{published.slug}/deflection/").status_code == 302


# --- Drafts from tickets and chats -----------------------------------------------------------


def test_draft_from_ticket_and_requester_notified_on_publish(agent, franchisee, django_capture_on_commit_callbacks):
    from tickets.services import add_comment, create_ticket

    ticket = create_ticket(actor=franchisee, subject="El datáfono no enciende", description="No da señales de vida")
    add_comment(ticket=ticket, actor=agent, body="Nota interna", internal=True)
    add_comment(ticket=ticket, actor=agent, body="Cambia el cargador por el de repuesto.")
    article = services.draft_article_from_ticket(ticket=ticket, actor=agent)
    assert article.status == "draft" and article.source_ticket == ticket
    assert article.title == "El datáfono no enciende"
    assert "Cambia el cargador" in article.body and "Nota interna" not in article.body
    assert not Notification.objects.filter(recipient=franchisee, kind="article_published").exists()
    services.publish_article(article=article, actor=agent)
    services.update_article(article=article, actor=agent, body=article.body + "\n\nMás.")
    notes = Notification.objects.filter(recipient=franchisee, kind="article_published")
    assert notes.count() == 1 and notes.get().url == article.get_absolute_url()


def test_draft_from_conversation(agent, franchisee):
    from chat.services import accept_conversation, post_message, start_conversation

    conversation = start_conversation(franchisee=franchisee, topic="No entra la wifi de clientes")
    accept_conversation(conversation_id=conversation.pk, agent=agent)
    post_message(conversation_id=conversation.pk, author=franchisee, body="Los móviles no conectan", client_id="a")
    post_message(conversation_id=conversation.pk, author=agent, body="Reinicia el punto de acceso.", client_id="b")
    article = services.draft_article_from_conversation(conversation=conversation, actor=agent)
    assert article.source_conversation == conversation and article.status == "draft"
    assert "Reinicia el punto de acceso." in article.body and "Los móviles no conectan" in article.body


def test_revision_snapshot_fields(published):
    revision = ArticleRevision.objects.get(article=published)
    assert (revision.number, revision.title, revision.status) == (1, published.title, "published")
