"""Did you mean: never reveals an article the user may not read (drafts, unpublished, archived)."""

from __future__ import annotations

import pytest

from knowledge_base import services
from knowledge_base.models import Article
from knowledge_base.search import search_articles
from knowledge_base.testing import temporary_search_index

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


@pytest.fixture
def kb(agent, django_capture_on_commit_callbacks):
    def make(title, body, status=Article.Status.PUBLISHED):
        with django_capture_on_commit_callbacks(execute=True):
            return services.create_article(actor=agent, title=title, body=body, status=status)

    make("La impresora no imprime", "Revisa el rollo de papel.")
    return make


def _set_status(agent, article, status, capture):
    with capture(execute=True):
        services.set_status(article=article, actor=agent, status=status)


def test_draft_only_words_are_never_suggested_to_a_franchisee(kb, franchisee):
    kb("Plan secreto murciélago", "Lanzamiento del producto murciélago.", status=Article.Status.DRAFT)
    assert search_articles("murcielajo", user=franchisee).suggestion is None
    assert search_articles("imprseora", user=franchisee).suggestion == "impresora"  # still works


@pytest.mark.parametrize("status", [Article.Status.DRAFT, Article.Status.IN_REVIEW, Article.Status.ARCHIVED])
def test_words_of_an_unpublished_article_stop_being_suggested(
    kb, agent, franchisee, status, django_capture_on_commit_callbacks
):
    article = kb("Plan murciélago", "Lanzamiento del producto murciélago.")
    assert search_articles("murcielajo", user=franchisee).suggestion == "murcielago"
    _set_status(agent, article, status, django_capture_on_commit_callbacks)
    assert search_articles("murcielajo", user=franchisee).suggestion is None


def test_a_draft_word_typed_exactly_is_corrected_like_an_unknown_word(kb, franchisee, agent):
    """Knowing a word (so offering no correction) must not come from a draft either."""
    kb("El barco", "Texto del borrador.", status=Article.Status.DRAFT)
    kb("El marco", "Texto publicado.")
    assert search_articles("barco", user=franchisee).suggestion == "marco"
    assert search_articles("barco", user=agent).suggestion is None  # agents may read the draft
