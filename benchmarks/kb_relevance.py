"""Knowledge-base relevance: recall@3 and MRR@10 of search_articles on an evaluation set.

    .venv/bin/python benchmarks/kb_relevance.py --articles ../shared/kb_eval/articles.json \
        --queries ../shared/kb_eval/queries.json [--no-baseline] [--misses]

Imports the articles into a fresh SQLite database and Whoosh index (in a temporary folder),
runs every query through knowledge_base.search.search_articles (the function behind
/kb/suggest/) as a franchisee, and prints JSON. The baseline is a stock Haystack setup on the
same articles: Haystack's Whoosh engine (English StemmingAnalyzer) with `auto_query`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    os.environ["WHOOSH_PATH"] = str(workdir / "index")
    os.environ.pop("ELASTICSEARCH_URL", None)
    os.environ.setdefault("DEBUG", "true")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def score(ranked: list[list[str]], queries: list[dict]) -> dict:
    hits, rr = 0, 0.0
    for slugs, query in zip(ranked, queries, strict=True):
        expected = set(query["expected"])
        if expected.intersection(slugs[:3]):
            hits += 1
        for rank, slug in enumerate(slugs[:10], start=1):
            if slug in expected:
                rr += 1 / rank
                break
    n = len(queries) or 1
    return {"recall@3": round(hits / n, 4), "mrr@10": round(rr / n, 4), "queries": len(queries)}


def run(articles_path: Path, queries_path: Path, *, baseline: bool, misses: bool) -> dict:
    from django.conf import settings
    from haystack import connections
    from haystack.query import SearchQuerySet

    from accounts.models import User
    from knowledge_base.models import Article
    from knowledge_base.search import search_articles
    from knowledge_base.services import deferred_indexing, import_article

    articles = json.loads(articles_path.read_text(encoding="utf-8"))
    queries = json.loads(queries_path.read_text(encoding="utf-8"))
    with deferred_indexing():
        for item in articles:
            import_article(item)
    user = User(username="bench", role="franchisee", franchise_id=1, is_active=True)

    ranked = [[hit.slug for hit in search_articles(q["q"], user=user, limit=10, with_facets=False)] for q in queries]
    report = {"engine": settings.HAYSTACK_CONNECTIONS["default"]["ENGINE"], **score(ranked, queries)}
    if misses:
        report["misses"] = [
            {"q": q["q"], "expected": q["expected"], "got": slugs[:3]}
            for q, slugs in zip(queries, ranked, strict=True)
            if not set(q["expected"]).intersection(slugs[:3])
        ]
    if baseline:
        path = Path(settings.HAYSTACK_CONNECTIONS["default"]["PATH"]).with_name("baseline_index")
        connections.connections_info["baseline"] = {
            "ENGINE": "haystack.backends.whoosh_backend.WhooshEngine",
            "PATH": str(path),
        }
        backend = connections["baseline"].get_backend()
        index = connections["baseline"].get_unified_index().get_index(Article)
        backend.update(index, list(Article.objects.select_related("category")))
        base_ranked = [
            [r.slug for r in SearchQuerySet(using="baseline").models(Article).auto_query(q["q"])[:10]] for q in queries
        ]
        report["baseline"] = {
            "engine": "haystack.backends.whoosh_backend.WhooshEngine + auto_query",
            **score(base_ranked, queries),
        }
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=ROOT.parent / "shared/kb_eval/articles.json")
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared/kb_eval/queries.json")
    parser.add_argument("--no-baseline", action="store_true", help="skip the stock-Haystack baseline")
    parser.add_argument("--misses", action="store_true", help="list the queries missed in the top 3")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-relevance-") as tmp:
        setup_django(Path(tmp))
        report = run(args.articles.resolve(), args.queries.resolve(), baseline=not args.no_baseline, misses=args.misses)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return report


if __name__ == "__main__":
    main()
