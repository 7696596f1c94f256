"""`manage.py kb_review`: list stale and often-unhelpful articles and remind their owners."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from knowledge_base.selectors import not_helpful_articles, stale_articles
from knowledge_base.services import notify_review_due


class Command(BaseCommand):
    help = "List published articles due for review (and those with many 'not helpful' votes); notify owners once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list only, send no reminders")

    def handle(self, *args, dry_run: bool, **options) -> None:
        stale = list(stale_articles())
        notified = 0
        for article in stale:
            sent = False if dry_run else notify_review_due(article)
            notified += sent
            owner = article.owner or article.author
            self.stdout.write(
                f"STALE  {article.next_review_at}  {article.slug}  "
                f"owner={owner.username if owner else '-'}{'  (notified)' if sent else ''}"
            )
        for article in not_helpful_articles():
            self.stdout.write(f"UNHELPFUL  {article.not_helpful_count}/{article.helpful_count}  {article.slug}")
        self.stdout.write(self.style.SUCCESS(f"{len(stale)} stale articles, {notified} owners notified."))
