"""Fusion of the lexical (Whoosh) and dense (e5) rankings into one.

Two methods (`settings.KB_FUSION_METHOD`):

- "minmax" (default): each list's scores are scaled to 0–1 within the list (best = 1, last
  kept = 0: BM25 over the lexical top DEPTH, cosine similarity over the dense top DEPTH), and an
  article's fused score is the weighted mean of its two scaled scores (0 for the list it is
  missing from). Unlike rank fusion this keeps how far ahead a list's best answer is: an article
  found by one side only, but by a clear margin, is no longer ranked below several articles that
  both sides find mediocre.
- "rrf": reciprocal rank fusion, w_lex / (K + rank_lex) + w_dense / (K + rank_dense) (Cormack,
  Clarke & Büttcher 2009), ranks from 1, a missing rank contributing nothing.

Both use the same weights (KB_FUSION_LEXICAL_WEIGHT / KB_FUSION_DENSE_WEIGHT, 1:1) and the same
dense floor, and both report scores on the same scale (an article first in both lists scores
(w_lex + w_dense) / (K + 1) × 1000), so the click term added afterwards (clicks.rerank) keeps its
size. Measured with benchmarks/kb_relevance.py --sweep (cross-validated, docs/KNOWLEDGE_BASE.md).
"""

from __future__ import annotations

from django.conf import settings

#: How many results of each ranking take part in the fusion.
DEPTH = 20
#: Dense hits below this cosine similarity are ignored (e5 similarities of unrelated texts are
#: ≈ 0.70–0.75; gibberish then finds nothing through the dense side).
DENSE_MIN_SCORE = 0.78
RRF_K = 60
METHODS = ("minmax", "rrf")


def weights() -> tuple[float, float]:
    return (
        float(getattr(settings, "KB_FUSION_LEXICAL_WEIGHT", 1.0)),
        float(getattr(settings, "KB_FUSION_DENSE_WEIGHT", 1.0)),
    )


def method() -> str:
    chosen = str(getattr(settings, "KB_FUSION_METHOD", "minmax")).lower()
    return chosen if chosen in METHODS else "minmax"


def _chosen_weights(lexical_weight: float | None, dense_weight: float | None) -> tuple[float, float]:
    default_lexical, default_dense = weights()
    return (
        default_lexical if lexical_weight is None else lexical_weight,
        default_dense if dense_weight is None else dense_weight,
    )


def _best_first(scores: dict[str, float], first_seen: list[str]) -> list[tuple[str, float]]:
    order = {slug: i for i, slug in enumerate(dict.fromkeys(first_seen))}
    return sorted(((slug, round(score * 1000, 4)) for slug, score in scores.items()),
                  key=lambda item: (-item[1], order[item[0]]))  # fmt: skip


def fuse(
    lexical: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    *,
    method_name: str | None = None,
    **options,
) -> list[tuple[str, float]]:
    """(slug, fused score) best first, by `method_name` (default: settings.KB_FUSION_METHOD).

    `lexical` is (slug, BM25 score) best first, `dense` (slug, cosine similarity) best first.
    """
    if (method_name or method()) == "rrf":
        return reciprocal_rank_fusion([slug for slug, _ in lexical], dense, **options)
    options.pop("k", None)
    return min_max_fusion(lexical, dense, **options)


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
    w_lex, w_dense = _chosen_weights(lexical_weight, dense_weight)
    scores: dict[str, float] = {}
    for rank, slug in enumerate(lexical[:DEPTH], start=1):
        scores[slug] = scores.get(slug, 0.0) + w_lex / (k + rank)
    kept = [slug for slug, similarity in dense if similarity >= min_dense_score]
    for rank, slug in enumerate(kept[:DEPTH], start=1):
        scores[slug] = scores.get(slug, 0.0) + w_dense / (k + rank)
    return _best_first(scores, [*lexical, *kept])


def _scaled(values: list[float]) -> list[float]:
    """Min-max scaling within one list: best 1, worst 0 (a single or all-equal list: all 1)."""
    low, high = min(values), max(values)
    if high <= low:
        return [1.0] * len(values)
    return [(value - low) / (high - low) for value in values]


def min_max_fusion(
    lexical: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    *,
    lexical_weight: float | None = None,
    dense_weight: float | None = None,
    min_dense_score: float = DENSE_MIN_SCORE,
) -> list[tuple[str, float]]:
    """(slug, fused score) best first; ties keep the lexical order (see the module docstring)."""
    w_lex, w_dense = _chosen_weights(lexical_weight, dense_weight)
    total = w_lex + w_dense
    if total <= 0:
        return []
    # The weighted mean of the scaled scores, on RRF's scale (first in both = total / (K + 1)).
    unit = 1.0 / (RRF_K + 1)
    lexical = [(slug, float(score or 0.0)) for slug, score in lexical[:DEPTH]]
    kept = [(slug, similarity) for slug, similarity in dense if similarity >= min_dense_score][:DEPTH]
    scores: dict[str, float] = {}
    for weight, ranking in ((w_lex, lexical), (w_dense, kept)):
        if not ranking:
            continue
        for (slug, _), value in zip(ranking, _scaled([score for _, score in ranking]), strict=True):
            scores[slug] = scores.get(slug, 0.0) + weight * value * unit
    return _best_first(scores, [slug for slug, _ in lexical] + [slug for slug, _ in kept])
