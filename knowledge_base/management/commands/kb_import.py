"""`manage.py kb_import PATH`: import articles from a JSON list or a folder of Markdown files."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from knowledge_base.importing import read_articles
from knowledge_base.services import deferred_indexing, import_article


class Command(BaseCommand):
    help = (
        "Import knowledge-base articles (JSON list like shared/kb_eval/articles.json, or a folder of "
        "Markdown files with front matter). Idempotent by slug; published unless the file says otherwise."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options) -> None:
        try:
            records = read_articles(path)
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        created = updated = failed = 0
        total = len(records)
        with deferred_indexing():
            for number, record in enumerate(records, start=1):
                try:
                    _, was_created = import_article(record)
                except ValidationError as exc:
                    failed += 1
                    self.stderr.write(
                        f"  {record.get('slug') or record.get('title') or '?'}: {'; '.join(exc.messages)}"
                    )
                    continue
                created += was_created
                updated += not was_created
                if number % 50 == 0 or number == total:
                    self.stdout.write(f"\r{number}/{total} articles", ending="")
                    self.stdout.flush()
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Imported {total - failed}: {created} new, {updated} updated, {failed} failed.")
        )
