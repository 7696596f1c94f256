"""Reciprocal rank fusion of the lexical (Whoosh) and dense (e5) rankings.

score(article) = w_lex / (K + rank_lex) + w_dense / (K + rank_dense), ranks from 1, a missing rank
contributing nothing (Cormack, Clarke & Büttcher 2009). Rank fusion needs no calibration
between BM25 scores and cosine similarities, which live on unrelated scales. The weights were
measured with benchmarks/kb_relevance.py (cross-validated, see docs/KNOWLEDGE_BASE.md).
"""

from __future__ import annotations

from django.conf import settings

#: How many results of each ranking take part in the fusion.
DEPTH = 20
#: Dense hits below this cosine similarity are ignored (e5 similarities of unrelated texts are
#: ≈ 0.70–0.75; gibberish then finds nothing through the dense side).
DENSE_MIN_SCORE = 0.78
RRF_K = 60


def weights() -> tuple[float, float]:
    return (
        float(getattr(settings, "KB_FUSION_LEXICAL_WEIGHT", 1.0)),
        float(getattr(settings, "KB_FUSION_DENSE_WEIGHT", 1.0)),
    )


def reciprocal_rank_fusion(
    lexical: list[str],
    dense: list[tuple[str, float]],
    *,
    k: int = RRF_K,
    lexical_weight: float | None = None,
    dense_weight: float | None = None,
    min_dense_score: float = DENSE_MIN_SCORE,
) -> list[tuple[str, float]]:
    """(slug, fused score) best first; ties keep the lexical order."""
    default_lexical, default_dense = weights()
    w_lex = default_lexical if lexical_weight is None else lexical_weight
    w_dense = default_dense if dense_weight is None else dense_weight
    scores: dict[str, float] = {}
    for rank, slug in enumerate(lexical[:DEPTH], start=1):
        scores[slug] = scores.get(slug, 0.0) + w_lex / (k + rank)
    kept = [slug for slug, similarity in dense if similarity >= min_dense_score]
    for rank, slug in enumerate(kept[:DEPTH], start=1):
        scores[slug] = scores.get(slug, 0.0) + w_dense / (k + rank)
    order = {slug: i for i, slug in enumerate(dict.fromkeys([*lexical, *kept]))}
    return sorted(((slug, round(score * 1000, 4)) for slug, score in scores.items()),
                  key=lambda item: (-item[1], order[item[0]]))  # fmt: skip
