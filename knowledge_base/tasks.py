"""Celery tasks: search index updates and the daily review of stale articles."""

from __future__ import annotations

import logging

from celery import shared_task
from haystack import connections

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def update_article_index(article_id: int) -> str:
    """Bring the index in line with the article: (re)index it, or remove it when archived/deleted."""
    from knowledge_base.models import Article
    from knowledge_base.search_indexes import INDEXED_STATUSES

    index = connections["default"].get_unified_index().get_index(Article)
    article = Article.objects.select_related("category").filter(pk=article_id).first()
    if article is not None and article.status in INDEXED_STATUSES:
        index.update_object(article)
        return "indexed"
    index.remove_object(f"knowledge_base.article.{article_id}")
    return "removed"


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def update_articles_index(article_ids: list[int]) -> dict:
    """Batch version for imports: one index writer for many articles."""
    from knowledge_base.models import Article
    from knowledge_base.search_indexes import INDEXED_STATUSES

    index = connections["default"].get_unified_index().get_index(Article)
    backend = connections["default"].get_backend()
    articles = list(Article.objects.select_related("category").filter(pk__in=article_ids))
    keep = [a for a in articles if a.status in INDEXED_STATUSES]
    if keep:
        backend.update(index, keep)
    gone = set(article_ids) - {a.pk for a in keep}
    for article_id in gone:
        backend.remove(f"knowledge_base.article.{article_id}")
    return {"indexed": len(keep), "removed": len(gone)}


@shared_task
def review_stale_articles() -> dict:
    """Notify the owners of published articles whose review date has come (once per due date)."""
    from knowledge_base.selectors import stale_articles
    from knowledge_base.services import notify_review_due

    stale = list(stale_articles())
    notified = sum(1 for article in stale if notify_review_due(article))
    logger.info("knowledge base review: %s stale, %s owners notified", len(stale), notified)
    return {"stale": len(stale), "notified": notified}


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def update_article_vectors(article_ids: list[int]) -> dict:
    """(Re)compute the dense vectors of these articles when dense search is on (see dense.py)."""
    from knowledge_base import dense
    from knowledge_base.models import Article, ArticleVector
    from knowledge_base.search_indexes import INDEXED_STATUSES

    if not dense.enabled():
        return {"embedded": 0, "removed": 0, "skipped": len(article_ids)}
    articles = list(Article.objects.filter(pk__in=article_ids, status__in=INDEXED_STATUSES))
    embedded = dense.update_vectors(articles)
    removed, _ = ArticleVector.objects.filter(pk__in=set(article_ids) - {a.pk for a in articles}).delete()
    dense.invalidate()
    return {"embedded": embedded, "removed": removed}


@shared_task
def content_gaps_digest() -> int:
    """Weekly (Celery beat): the content-gaps summary to every knowledge base owner."""
    from knowledge_base.services import send_content_gaps_digest

    return send_content_gaps_digest(days=7)
