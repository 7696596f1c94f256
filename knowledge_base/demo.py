"""Demo knowledge base for seed_demo: the repo's own articles in knowledge_base/demo_articles/."""

from __future__ import annotations

from pathlib import Path

from accounts.models import User
from knowledge_base.importing import read_articles
from knowledge_base.services import deferred_indexing, import_article

DEMO_DIR = Path(__file__).resolve().parent / "demo_articles"


def seed(*, password: str, stdout) -> list:
    """Load (or refresh) the demo articles idempotently; owners are the demo agents."""
    owners = list(User.objects.filter(username__in=["agente1", "agente2"]).order_by("username"))
    records = read_articles(DEMO_DIR)
    with deferred_indexing():
        for number, record in enumerate(records):
            import_article(record, owner=owners[number % len(owners)] if owners else None)
    stdout.write(f"Knowledge base: {len(records)} demo articles.")
    return []
