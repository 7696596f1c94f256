"""Knowledge-base search: Spanish/English analysis, typos, synonyms, visibility, index updates, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge_base import services
from knowledge_base.analysis import word_forms
from knowledge_base.models import Article
from knowledge_base.search import search_articles
from knowledge_base.testing import temporary_search_index

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


def make(agent, title, body, *, status=Article.Status.PUBLISHED, tags="", summary="", language="es", category=None):
    return services.create_article(
        actor=agent, title=title, body=body, status=status, tags=tags, summary=summary, language=language,
        category=category,
    )  # fmt: skip


@pytest.fixture
def corpus(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        articles = {
            "printer": make(agent, "La impresora de tickets no imprime", "Revisa el rollo de papel térmico y la tapa.",
                            tags="impresora, papel"),
            "password": make(agent, "He olvidado la contraseña del back-office", "Pulsa «He olvidado mi contraseña».",
                             tags="contraseña, acceso"),
            "terminal": make(agent, "El datáfono no tiene conexión", "Comprueba el cable de red del datáfono.",
                             tags="datáfono, tarjeta"),
            "update": make(agent, "Actualización del TPV bloqueada", "Espera a que termine la actualización.",
                           tags="tpv, actualización"),
            "receipts": make(agent, "Receipts are printing faded", "Replace the thermal paper roll.",
                             tags="printer, receipt", language="en"),
            "draft": make(agent, "Borrador secreto sobre la alarma", "La alarma suena sin motivo.",
                          status=Article.Status.DRAFT),
        }  # fmt: skip
    return articles


def slugs(query, user, **kwargs):
    return [hit.slug for hit in search_articles(query, user=user, **kwargs).hits]


def test_accent_folding_finds_accented_words(corpus, franchisee):
    assert slugs("contrasena", franchisee)[0] == corpus["password"].slug
    assert slugs("datafono sin conexion", franchisee)[0] == corpus["terminal"].slug
    assert slugs("actualizacion", franchisee)[0] == corpus["update"].slug
    assert slugs("CONTRASEÑA", franchisee)[0] == corpus["password"].slug


def test_spanish_and_english_stemming(corpus, franchisee):
    assert slugs("impresoras que no imprimen", franchisee)[0] == corpus["printer"].slug
    assert slugs("faded receipt printer", franchisee)[0] == corpus["receipts"].slug


def test_accent_forms_meet_after_stemming():
    assert set(word_forms("actualización")) & set(word_forms("actualizacion"))
    assert set(word_forms("contraseñas")) & set(word_forms("contrasena"))


def test_one_letter_typo_is_tolerated_and_suggested(corpus, franchisee):
    result = search_articles("imrpesora", user=franchisee)
    assert result.hits and result.hits[0].slug == corpus["printer"].slug
    assert result.suggestion == "impresora"
    assert search_articles("impresora", user=franchisee).suggestion is None


def test_synonyms_of_the_trade(corpus, franchisee):
    assert corpus["password"].slug in slugs("clave", franchisee)[:3]
    assert corpus["update"].slug in slugs("caja actualización", franchisee)[:1]


def test_a_query_word_scores_once_per_field_however_many_stems_it_has(corpus):
    """`impresora` is indexed under two stems (`impresor`, `impresora`): the title that has the word
    scores the best of them, not their sum (search_backends._word_clause), so how many stems the
    stemmers happen to give a word no longer decides how much it counts."""
    from haystack import connections
    from whoosh import query as wq

    from knowledge_base import search_backends

    forms = word_forms("impresora")
    assert len(forms) >= 2
    backend = connections["default"].get_backend()
    searcher = backend._kb_searcher()
    alone = []
    for form in forms:
        results = searcher.search(wq.Term("title", form), limit=None)
        alone.append({searcher.stored_fields(hit.docnum)["slug"]: hit.score for hit in results})
    slug = corpus["printer"].slug
    assert all(slug in scores for scores in alone)

    def score(word_forms_mode):
        search_backends.WORD_FORMS = word_forms_mode
        try:
            found = backend.kb_search([[("impresora", 1.0, False)]], field_boosts=(("title", 1.0),),
                                      statuses=[Article.Status.PUBLISHED])  # fmt: skip
        finally:
            search_backends.WORD_FORMS = "max"
        return {hit["slug"]: hit["score"] for hit in found["hits"]}[slug]

    assert score("max") == pytest.approx(max(scores[slug] for scores in alone))
    assert score("sum") == pytest.approx(sum(scores[slug] for scores in alone))


def test_best_of_scores_each_document_by_its_own_best_form(agent, franchisee, django_capture_on_commit_callbacks):
    """`cobrar` has two forms (`cobr`, `cobrar`); `cobro` and `cobrado` share only `cobr`. Each
    article must score the best of the forms *it* contains, with or without the collector's
    quality pruning. Whoosh's own DisjunctionMax scores the current document with a posting of
    another document and drops documents when pruning (search_backends._BestOfMatcher)."""
    from haystack import connections
    from whoosh import query as wq

    from knowledge_base.search_backends import BestOf

    with django_capture_on_commit_callbacks(execute=True):
        bodies = [
            "Hoy no se puede cobrar con tarjeta.",
            "El cobro con tarjeta falla.",
            "Ya está cobrado.",
            "Cobrar, cobrar y cobrar: el TPV cobra despacio.",
            "La impresora no imprime.",
        ] * 3
        for number, body in enumerate(bodies):
            make(agent, f"Artículo {number}", body)  # fmt: skip
    searcher = connections["default"].get_backend()._kb_searcher()
    forms = [wq.Term("text", form) for form in word_forms("cobrar")]
    best: dict[int, float] = {}
    for term in forms:
        for hit in searcher.search(term, limit=None):
            best[hit.docnum] = max(best.get(hit.docnum, 0.0), hit.score)
    assert len(best) == 12 and len(set(best.values())) > 1
    for optimize in (True, False):
        found = {hit.docnum: hit.score for hit in searcher.search(BestOf(forms), limit=None, optimize=optimize)}
        assert found == pytest.approx(best)
        top = {hit.docnum: hit.score for hit in searcher.search(BestOf(forms), limit=3, optimize=optimize)}
        assert sorted(top.values(), reverse=True) == pytest.approx(sorted(best.values(), reverse=True)[:3])


def test_title_outranks_body(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        in_body = make(agent, "Cierre del día", "Apaga la báscula antes de irte.")
        in_title = make(agent, "La báscula no pesa", "Comprueba el nivel.")
    assert slugs("bascula", franchisee)[:2] == [in_title.slug, in_body.slug]


def test_franchisee_never_finds_drafts_agent_does(corpus, franchisee, agent):
    assert corpus["draft"].slug not in slugs("alarma secreto", franchisee)
    assert corpus["draft"].slug in slugs("alarma secreto", agent)


def test_snippet_is_highlighted_and_escaped(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make(agent, "Etiquetas", "Imprime la etiqueta <script>alert(1)</script> del lineal con cuidado.")
    hit = search_articles("etiqueta lineal", user=franchisee).hits[0]
    assert "<mark>lineal</mark>" in hit.snippet
    assert "<script>" not in hit.snippet


def test_edit_is_found_by_new_wording_and_archive_removes(
    corpus, franchisee, agent, django_capture_on_commit_callbacks
):
    article = corpus["printer"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_article(article=article, actor=agent, body="Limpia el cabezal con alcohol isopropílico.")
    assert slugs("isopropilico", franchisee) == [article.slug]
    with django_capture_on_commit_callbacks(execute=True):
        services.archive_article(article=article, actor=agent)
    assert article.slug not in slugs("isopropilico impresora", franchisee)
    assert article.slug not in slugs("isopropilico impresora", agent)


def test_delete_removes_from_index(corpus, agent, django_capture_on_commit_callbacks):
    slug = corpus["terminal"].slug
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_article(article=corpus["terminal"], actor=agent)
    assert slug not in slugs("datafono", agent)


def test_category_facets_and_filter(agent, franchisee, django_capture_on_commit_callbacks):
    from knowledge_base.models import Category

    pay = Category.objects.create(name="Pagos", slug="pagos")
    tpv = Category.objects.create(name="TPV", slug="tpv")
    with django_capture_on_commit_callbacks(execute=True):
        a = make(agent, "Cobro con tarjeta rechazado", "El banco rechaza la tarjeta.", category=pay)
        make(agent, "Cobro lento en el TPV", "El TPV tarda al cobrar.", category=tpv)
    result = search_articles("cobro", user=franchisee)
    assert {(f.slug, f.count) for f in result.facets} == {("pagos", 1), ("tpv", 1)}
    assert result.total == 2
    assert slugs("cobro", franchisee, category="pagos") == [a.slug]


def test_articles_without_category_have_a_readable_facet(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make(agent, "Cobro con vale regalo", "El vale se canjea en caja.")
    assert [(f.name, f.count) for f in search_articles("vale", user=franchisee).facets] == [("Sin categoría", 1)]


@pytest.mark.parametrize(
    "query",
    ["", "   ", "AND (", 'contraseña "sin cerrar', "*", "~", "impresora:", "title:x^9", "OR NOT AND", "🙂🔥",
     "x" * 2000, "impresora " * 300, "\x00\x01", "[]{}<>", "a", "(((("],
)  # fmt: skip
def test_bad_input_never_errors(corpus, franchisee, query):
    result = search_articles(query, user=franchisee)
    assert isinstance(result.hits, list)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=300))
def test_fuzz_search_never_raises(corpus, franchisee, query):
    result = search_articles(query, user=franchisee, limit=5)
    assert len(result.hits) <= 5
    assert all(hit.url.startswith("/kb/") for hit in result.hits)


def test_suggest_endpoint_json(corpus, franchisee_client):
    response = franchisee_client.get("/kb/suggest/", {"q": "contrasena"})
    assert response.status_code == 200
    data = json.loads(response.content)
    assert set(data) == {"results", "suggestion"}
    assert data["results"][0]["slug"] == corpus["password"].slug
    assert set(data["results"][0]) == {"slug", "title", "url", "snippet", "score"}
    assert data["results"][0]["url"] == f"/kb/{corpus['password'].slug}/"


def test_suggest_hides_drafts_and_handles_garbage(corpus, franchisee_client):
    data = franchisee_client.get("/kb/suggest/", {"q": "borrador secreto alarma"}).json()
    assert corpus["draft"].slug not in [r["slug"] for r in data["results"]]
    assert franchisee_client.get("/kb/suggest/", {"q": 'AND ( "*~:'}).status_code == 200
    assert franchisee_client.get("/kb/suggest/", {"q": "x", "limit": "zz"}).status_code == 200


def test_search_page_shows_results_did_you_mean_and_categories(corpus, franchisee_client):
    page = franchisee_client.get("/kb/search/", {"q": "imrpesora"}).content.decode()
    assert corpus["printer"].title in page
    assert "impresora</a>?" in page
    empty = franchisee_client.get("/kb/search/", {"q": ""})
    assert empty.status_code == 200
    assert "Categorías" in empty.content.decode()


def test_search_requires_login(client):
    assert client.get("/kb/suggest/", {"q": "x"}).status_code == 302


def test_rebuild_index_from_scratch(corpus, franchisee):
    from django.core.management import call_command

    call_command("rebuild_index", interactive=False, verbosity=0)
    assert slugs("contrasena", franchisee)[0] == corpus["password"].slug
    assert corpus["draft"].slug not in slugs("alarma", franchisee)


def test_bulk_rebuild_ranks_like_incremental_indexing(corpus, franchisee, monkeypatch):
    """rebuild_index of a big KB uses the bulk writer (empty index, add_document): same results."""
    from django.core.management import call_command

    from knowledge_base import search_backends

    queries = ["contrasena", "impresora papel", "datafono", "printer receipt", "actualizacion tpv", "alarma"]
    incremental = {q: slugs(q, franchisee) for q in queries}
    used = []
    original = search_backends.KBWhooshBackend.update

    def spy(self, index, iterable, commit=True):
        used.append(len(iterable) >= search_backends.BULK_LOAD_MIN and self.index.refresh().doc_count_all() == 0)
        return original(self, index, iterable, commit=commit)

    monkeypatch.setattr(search_backends, "BULK_LOAD_MIN", 2)
    monkeypatch.setattr(search_backends.KBWhooshBackend, "update", spy)
    call_command("rebuild_index", interactive=False, verbosity=0)
    assert True in used  # the bulk path ran
    assert {q: slugs(q, franchisee) for q in queries} == incremental
    assert corpus["draft"].slug not in slugs("alarma", franchisee)


def test_common_words_still_match_in_large_indexes(corpus, franchisee, monkeypatch):
    """The postings budget (a speed measure for big indexes) keeps every word's rarest term."""
    from knowledge_base import search_backends

    monkeypatch.setattr(search_backends, "POSTINGS_BUDGET", 0)
    assert slugs("contraseña", franchisee)[0] == corpus["password"].slug
    assert slugs("olvidado contraseña backoffice", franchisee)[0] == corpus["password"].slug


def test_suggest_query_count(corpus, franchisee_client, django_assert_max_num_queries):
    franchisee_client.get("/kb/suggest/", {"q": "impresora"})
    # session + user, the synonym table's change check (at most once a second), the search log
    # (find the burst's row, then update it or add one)
    with django_assert_max_num_queries(5):
        assert franchisee_client.get("/kb/suggest/", {"q": "imrpesora papel"}).status_code == 200
