"""Knowledge base in two languages: category names per reader, articles linked to their translation."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
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


# --- Articles linked to their translation ----------------------------------------------------


@pytest.fixture
def pair(agent, payments, refund, django_capture_on_commit_callbacks):
    """`refund` (Spanish) and its English translation, linked from the English one."""
    with django_capture_on_commit_callbacks(execute=True):
        english = services.create_article(
            actor=agent, title="Refunding a card payment",
            body="Press refund on the card terminal (datáfono) and wait for the beep.", category=payments,
            status="published", language="en", tags="datáfono, refund", translation=refund,
        )  # fmt: skip
    refund.refresh_from_db()
    return refund, english


def test_linking_translations_validates_languages_and_groups(agent, pair):
    spanish, english = pair
    assert spanish.translation_group == english.translation_group is not None
    assert list(spanish.translations()) == [english]
    other_spanish = services.create_article(actor=agent, title="Otro", body="x", language="es")
    with pytest.raises(ValidationError):  # same language
        services.set_translation(article=other_spanish, translation=spanish, actor=agent)
    with pytest.raises(ValidationError):  # the English one already has its Spanish translation
        services.set_translation(article=other_spanish, translation=english, actor=agent)
    with pytest.raises(ValidationError):  # changing the language into the one its translation has
        services.update_article(article=spanish, actor=agent, language="en")
    services.set_translation(article=english, translation=None, actor=agent)
    spanish.refresh_from_db()
    assert spanish.translation_group is None  # a group of one is dissolved
    services.set_translation(article=other_spanish, translation=english, actor=agent)
    english.refresh_from_db()
    assert list(english.translations()) == [Article.objects.get(pk=other_spanish.pk)]
    note = english.revisions.order_by("-number").first()
    with translation.override("en"):
        assert note.shown_note == "Unlinked from its translation"


def test_the_editor_links_and_unlinks_a_translation(agent_client, agent, refund, payments):
    english = services.create_article(actor=agent, title="Refunds", body="x", language="en", status="published")
    form = {
        "title": refund.title, "summary": "", "body": refund.body, "category": payments.pk, "tags": refund.tags,
        "language": "es", "owner": agent.pk, "review_interval_days": 180, "status": "published", "note": "",
    }  # fmt: skip
    response = agent_client.post(f"/kb/{refund.slug}/edit/", {**form, "translation": refund.slug})
    assert "no puede ser su propia traducción" in response.content.decode()
    response = agent_client.post(f"/kb/{refund.slug}/edit/", {**form, "translation": f"/kb/{english.slug}/"})
    assert response.status_code == 302
    english.refresh_from_db()
    assert english.translation_group is not None
    page = agent_client.get(f"/kb/{refund.slug}/edit/").content.decode()
    assert f'value="{english.slug}"' in page
    agent_client.post(f"/kb/{refund.slug}/edit/", {**form, "translation": ""})
    english.refresh_from_db()
    assert english.translation_group is None


def test_the_admin_links_a_translation(agent_client, agent, refund):
    english = services.create_article(actor=agent, title="Refunds", body="x", language="en")
    page = agent_client.get(f"/admin/knowledge_base/article/{english.pk}/change/").content.decode()
    assert 'name="translation"' in page
    form = {
        "title": english.title, "slug": english.slug, "summary": "", "body": "x", "tags": "", "language": "en",
        "status": "draft", "review_interval_days": 180, "translation": refund.slug,
        "revisions-TOTAL_FORMS": 0, "revisions-INITIAL_FORMS": 0,
    }  # fmt: skip
    response = agent_client.post(f"/admin/knowledge_base/article/{english.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    refund.refresh_from_db()
    assert refund.translation_group is not None


def test_the_admin_list_shows_each_translation_in_constant_queries(agent_client, agent, pair):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_page() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            page = agent_client.get("/admin/knowledge_base/article/").content.decode()
        return page, len(queries)

    page, one_pair = list_page()
    assert "Refunding a card payment (en)" in page and "Devolver un cobro con tarjeta (es)" in page
    for n in range(3):
        spanish = services.create_article(actor=agent, title=f"Artículo {n}", body="x")
        services.create_article(actor=agent, title=f"Article {n}", body="x", language="en", translation=spanish)
    page, four_pairs = list_page()
    assert "Article 2 (en)" in page and four_pairs == one_pair


@pytest.mark.parametrize(("language", "link"), [("es", "Also in English"), ("en", "También en español")])
def test_the_article_page_links_its_translation_in_that_language(pair, franchisee, language, link):
    spanish, english = pair
    shown, other = (spanish, english) if language == "es" else (english, spanish)
    page = reader(franchisee, language).get(f"/kb/{shown.slug}/").content.decode()
    assert f'hreflang="{other.language}">{link}</a>: {other.title}' in page
    assert f'<link rel="alternate" hreflang="{other.language}" href="/kb/{other.slug}/">' in page
    assert f'<li><a href="/kb/{other.slug}/">' not in page  # not among the related articles


def test_an_unpublished_translation_is_not_linked_for_franchisees(pair, franchisee, agent_client, agent):
    spanish, english = pair
    services.set_status(article=english, actor=agent, status="draft")
    assert "Also in English" not in reader(franchisee, "es").get(f"/kb/{spanish.slug}/").content.decode()
    assert "Also in English" in agent_client.get(f"/kb/{spanish.slug}/").content.decode()


@pytest.mark.parametrize("language", ["es", "en"])
def test_search_and_suggest_show_the_readers_language_of_a_pair(pair, franchisee, language):
    from knowledge_base.search import search_articles

    spanish, english = pair
    mine, theirs = (spanish, english) if language == "es" else (english, spanish)
    for query in ("datáfono", "refund devolución"):
        hits = [hit.slug for hit in search_articles(query, user=franchisee, language=language).hits]
        assert mine.slug in hits and theirs.slug not in hits, (query, hits)
    client = reader(franchisee, language)
    suggested = [r["slug"] for r in client.get("/kb/suggest/", {"q": "datáfono"}).json()["results"]]
    assert suggested == [mine.slug]
    page = client.get("/kb/search/", {"q": "datáfono"}).content.decode()
    assert f"/kb/{mine.slug}/" in page and f"/kb/{theirs.slug}/" not in page
    api = client.get("/api/v1/kb/search/", {"q": "datáfono"}, HTTP_ACCEPT_LANGUAGE=language).json()
    assert [r["slug"] for r in api["results"]] == [mine.slug]


def test_a_lone_match_in_the_other_language_is_still_found(pair, franchisee):
    from knowledge_base.search import search_articles

    _spanish, english = pair
    assert [hit.slug for hit in search_articles("beep", user=franchisee, language="es").hits] == [english.slug]


@pytest.mark.parametrize("language", ["es", "en"])
def test_lists_show_one_of_a_pair_in_the_readers_language_first(pair, agent, payments, franchisee, language):
    spanish, english = pair
    mine, theirs = (spanish, english) if language == "es" else (english, spanish)
    lone = services.create_article(
        actor=agent, title="Aaa only in the other language", body="x", category=payments, status="published",
        language="en" if language == "es" else "es",
    )  # fmt: skip
    client = reader(franchisee, language)
    for url in ("/kb/", "/kb/search/?category=pagos"):
        page = client.get(url).content.decode()
        assert f"/kb/{mine.slug}/" in page and f"/kb/{theirs.slug}/" not in page, url
    category_page = client.get("/kb/search/?category=pagos").content.decode()
    assert category_page.index(f"/kb/{mine.slug}/") < category_page.index(f"/kb/{lone.slug}/")


@pytest.mark.parametrize(("language", "label"), [("es", "2 artículos"), ("en", "2 articles")])
def test_a_category_counts_a_translated_pair_once(pair, agent, payments, franchisee, language, label):
    services.create_article(actor=agent, title="Otro", body="x", category=payments, status="published")
    services.create_article(actor=agent, title="Borrador", body="x", category=payments, status="draft")
    page = reader(franchisee, language).get("/kb/").content.decode()
    assert label in page  # the pair and the lone article; not the draft


def test_import_links_a_translation_by_slug():
    services.import_article({"slug": "cierre", "title": "Cierre", "body": "x", "language": "es"})
    services.import_article(
        {"slug": "closing", "title": "Closing", "body": "y", "language": "en", "translation_of": "cierre"}
    )
    assert [a.slug for a in Article.objects.get(slug="cierre").translations()] == ["closing"]


def test_a_folder_import_links_a_translation_whose_file_sorts_first(tmp_path):
    from knowledge_base.importing import read_articles

    # "cierre-en.md" sorts before "cierre.md" ('-' < '.'): the original is imported first anyway
    (tmp_path / "cierre-en.md").write_text("---\ntitle: Closing\nlanguage: en\ntranslation_of: cierre\n---\ny")
    (tmp_path / "cierre.md").write_text("---\ntitle: Cierre\nlanguage: es\n---\nx")
    for record in read_articles(tmp_path):
        services.import_article(record)
    assert [a.slug for a in Article.objects.get(slug="cierre").translations()] == ["cierre-en"]
