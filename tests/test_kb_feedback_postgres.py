"""Concurrent duplicate KB feedback on PostgreSQL: one vote counts, the others are a repeat (no 500)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client

from knowledge_base import services
from knowledge_base.models import Article, ArticleFeedback
from tests.conftest import require_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RACERS = 4


@pytest.fixture(autouse=True)
def _needs_postgres():
    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")


def _race(action) -> list:
    barrier = threading.Barrier(RACERS)
    results: list = [None] * RACERS

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = action()
        except Exception as exc:  # noqa: BLE001 — the test reports what each racer got
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_duplicate_feedback_is_one_vote_and_repeats(franchisee, agent):
    for round_ in range(5):  # each round is a real race between connections
        article = services.create_article(
            actor=agent, title=f"Datáfono {round_}", body="Reinicia.", status=Article.Status.PUBLISHED
        )
        results = _race(lambda a=article: services.submit_feedback(article=a, user=franchisee, helpful=True))
        won = [r for r in results if isinstance(r, ArticleFeedback)]
        repeats = [r for r in results if isinstance(r, ValidationError)]
        assert len(won) == 1 and len(repeats) == RACERS - 1, results
        article.refresh_from_db()
        assert article.helpful_count == 1 and ArticleFeedback.objects.filter(article=article).count() == 1


def test_concurrent_duplicate_feedback_posts_never_500(franchisee, agent):
    article = services.create_article(actor=agent, title="Impresora", body="Papel.", status=Article.Status.PUBLISHED)

    def post():
        client = Client(raise_request_exception=False)
        client.force_login(franchisee)
        return client.post(f"/kb/{article.slug}/feedback/", {"helpful": "yes"}).status_code

    for _ in range(3):
        ArticleFeedback.objects.filter(article=article).delete()
        assert set(_race(post)) == {302}
        assert ArticleFeedback.objects.filter(article=article).count() == 1
