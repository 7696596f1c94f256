"""Fill the stored full-text documents of every ticket (PostgreSQL; after a bulk load or a restore)."""

from django.core.management.base import BaseCommand

from tickets import search


class Command(BaseCommand):
    help = "Rebuild the ticket search documents (PostgreSQL full-text search; nothing to do on SQLite)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=5000, help="tickets per statement")

    def handle(self, *args, batch: int, **options) -> None:
        if not search.is_postgres():
            self.stdout.write("indexed=0 (SQLite: the search reads the tables directly)")
            return
        done = search.rebuild(batch=batch)
        self.stdout.write(f"indexed={done}")
