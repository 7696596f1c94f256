"""Knowledge base in two languages: category names per reader, articles linked to their translation."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from knowledge_base import services
from knowledge_base.models import Article, Category
from knowledge_base.testing import temporary_search_index

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


def reader(user, language: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def payments():
    return Category.objects.create(name="Pagos con tarjeta", name_en="Card payments", slug="pagos")


@pytest.fixture
def refund(agent, payments, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.create_article(
            actor=agent, title="Devolver un cobro con tarjeta", body="Pulsa devolución en el datáfono.",
            category=payments, status="published", tags="datáfono, devolución",
        )  # fmt: skip


# --- Category names ------------------------------------------------------------------


def test_a_category_reads_in_each_language(payments):
    with translation.override("en"):
        assert str(payments) == "Card payments"
    with translation.override("es"):
        assert str(payments) == "Pagos con tarjeta"
    untranslated = Category.objects.create(name="Varios", slug="varios")
    with translation.override("en"):
        assert untranslated.display_name == "Varios"


@pytest.mark.parametrize(("language", "name"), [("es", "Pagos con tarjeta"), ("en", "Card payments")])
def test_pages_show_the_category_in_the_readers_language(refund, franchisee, language, name):
    client = reader(franchisee, language)
    other = "Card payments" if language == "es" else "Pagos con tarjeta"
    for url in ("/kb/", f"/kb/{refund.slug}/", "/kb/search/?q=devolucion"):
        page = client.get(url).content.decode()
        assert name in page, url
        assert other not in page, url
    facets = client.get("/kb/search/?q=devolucion").content.decode()
    assert f'category=pagos">{name}</a>' in facets


@pytest.mark.parametrize(("language", "name"), [("es", "Pagos con tarjeta"), ("en", "Card payments")])
def test_api_and_editor_show_the_category_in_the_readers_language(refund, agent, language, name):
    client = reader(agent, language)
    data = client.get(f"/api/v1/kb/articles/{refund.slug}/", HTTP_ACCEPT_LANGUAGE=language).json()
    assert data["category"] == {"slug": "pagos", "name": name}
    editor = client.get(f"/kb/{refund.slug}/edit/").content.decode()
    assert f">{name}</option>" in editor
    admin_list = client.get("/admin/knowledge_base/category/").content.decode()
    assert "Card payments" in admin_list  # the admin lists both names


def test_import_fills_the_english_name_of_a_category():
    services.import_article({"slug": "a", "title": "A", "body": "x", "category": "Red y seguridad"})
    services.import_article(
        {"slug": "b", "title": "B", "body": "y", "category": "Red y seguridad", "category_en": "Network and security"}
    )
    category = Category.objects.get(name="Red y seguridad")
    assert category.name_en == "Network and security"
    assert Article.objects.filter(category=category).count() == 2
