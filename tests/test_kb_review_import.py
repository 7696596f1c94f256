"""Review cycle (task, command, dashboard panel), kb_import and the demo articles."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from knowledge_base import services
from knowledge_base.models import Article
from knowledge_base.search import search_articles
from knowledge_base.tasks import review_stale_articles
from knowledge_base.testing import temporary_search_index
from notifications.models import Notification


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


@pytest.fixture
def stale(agent, agent2):
    article = services.create_article(actor=agent, title="Viejo", body="x", status="published", owner=agent2)
    Article.objects.filter(pk=article.pk).update(next_review_at=timezone.localdate() - timedelta(days=1))
    return article


def test_published_articles_get_a_review_date(agent):
    article = services.create_article(actor=agent, title="T", body="x", status="published", review_interval_days=30)
    assert article.next_review_at == timezone.localdate() + timedelta(days=30)


def test_review_task_notifies_owner_once(stale, agent, agent2):
    fresh = services.create_article(actor=agent, title="Nuevo", body="x", status="published")
    assert review_stale_articles() == {"stale": 1, "notified": 1}
    assert review_stale_articles() == {"stale": 1, "notified": 0}  # idempotent
    notes = Notification.objects.filter(kind="article_review_due")
    assert [n.recipient for n in notes] == [agent2]
    assert notes.get().url == stale.get_edit_url()
    assert fresh.slug not in [n.url for n in notes]


def test_marking_reviewed_schedules_next_review_and_rearms(stale, agent2, agent_client):
    review_stale_articles()
    response = agent_client.post(f"/kb/{stale.slug}/reviewed/")
    assert response.status_code == 302
    stale.refresh_from_db()
    assert stale.next_review_at == timezone.localdate() + timedelta(days=stale.review_interval_days)
    assert review_stale_articles()["stale"] == 0


def test_kb_review_command_lists_and_notifies(stale):
    out = StringIO()
    call_command("kb_review", "--dry-run", stdout=out)
    assert "STALE" in out.getvalue() and stale.slug in out.getvalue()
    assert not Notification.objects.exists()
    call_command("kb_review", stdout=StringIO())
    assert Notification.objects.filter(kind="article_review_due").count() == 1


def test_review_panel_shows_stale_unhelpful_and_deflections(stale, agent, franchisee, other_franchisee):
    from knowledge_base.models import ArticleFeedback, Deflection

    bad = services.create_article(actor=agent, title="Poco útil", body="x", status="published")
    for user in (franchisee, other_franchisee, agent):
        ArticleFeedback.objects.create(article=bad, user=user, helpful=False)
    Article.objects.filter(pk=bad.pk).update(not_helpful_count=3)
    Deflection.objects.create(article=bad, user=franchisee, created_at=timezone.now() - timedelta(hours=2))
    request = RequestFactory().get("/agent/")
    request.user = agent
    html = Template("{% load kb_tags %}{% kb_review_panel %}").render(Context({"request": request}))
    assert "Viejo" in html and "Poco útil" in html and "3 / 0" in html
    assert 'class="badge ok">1<' in html
    request.user = franchisee
    assert "Viejo" not in Template("{% load kb_tags %}{% kb_review_panel %}").render(Context({"request": request}))


def test_kb_import_json_is_idempotent_and_published(tmp_path, franchisee, django_capture_on_commit_callbacks):
    data = [
        {"slug": "uno", "title": "Cambiar el rollo", "category": "Impresoras", "language": "es",
         "tags": ["impresora"], "body": "Abre la tapa de la impresora."},
        {"slug": "dos", "title": "Borrador", "category": "Impresoras", "body": "x", "status": "draft"},
    ]  # fmt: skip
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("kb_import", str(path), stdout=out)
    assert "2/2" in out.getvalue()
    call_command("kb_import", str(path), stdout=StringIO())
    assert Article.objects.count() == 2
    assert Article.objects.get(slug="uno").status == "published"
    assert Article.objects.get(slug="dos").status == "draft"
    assert Article.objects.get(slug="uno").revisions.count() == 1
    assert [h.slug for h in search_articles("impresora tapa", user=franchisee).hits] == ["uno"]


def test_kb_import_markdown_folder(tmp_path, db):
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "wifi.md").write_text(
        "---\ntitle: Wifi de clientes\ncategory: Red\nlanguage: en\ntags: wifi, router\n---\nRestart the **router**.\n",
        encoding="utf-8",
    )
    call_command("kb_import", str(folder), stdout=StringIO())
    article = Article.objects.get(slug="wifi")
    assert (article.title, article.language, article.tag_list, article.category.name) == (
        "Wifi de clientes", "en", ["wifi", "router"], "Red",
    )  # fmt: skip
    assert article.body == "Restart the **router**.\n"


def test_kb_import_bad_path_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("kb_import", str(tmp_path / "missing.json"))


def test_demo_seed_is_idempotent_and_big_enough(franchisee, django_capture_on_commit_callbacks):
    from knowledge_base.demo import seed

    with django_capture_on_commit_callbacks(execute=True):
        assert seed(password="x", stdout=StringIO()) == []
    count = Article.objects.filter(status="published").count()
    seed(password="x", stdout=StringIO())
    assert count == Article.objects.count() >= 30
    assert set(Article.objects.values_list("language", flat=True)) == {"es", "en"}
    english = Article.objects.get(slug="card-terminal-paper-roll")  # a translated pair, linked both ways
    assert [a.slug for a in english.translations()] == ["datafono-cambiar-rollo"]
    assert search_articles("contrasena", user=franchisee).hits
