"""/kb/suggest/ latency A/B of the lexical word-forms scoring (search_backends.WORD_FORMS): "max"
(each query word scores once per field, the default since the issue 18 follow-up) against "sum"
(every matching stem adds, as before). Figures in docs/KNOWLEDGE_BASE.md ("Relevance", "Follow-up").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/notes/kb_word_forms_latency.py [--articles 10000] [--rounds 10]

The corpus, index and queries of benchmarks/kb_suggest_latency.py (synthetic articles from the
demo articles, one segment), built once; then the two scorings take turns, one round of every
query each, so both see the same index, cache state and machine load. --dense times the hybrid
path the same way (fake vectors as in kb_suggest_latency.py, query embedding uncached).
Also times the search call alone (KBWhooshBackend.kb_search on the query plans of the same
queries, --search-rounds rounds, interleaved), which is where the two scorings differ.
Prints JSON: wall and CPU p50 / p95 per scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dense", action="store_true")
    parser.add_argument("--search-rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-forms-latency-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'db.sqlite3'}"
        os.environ["WHOOSH_PATH"] = str(Path(tmp) / "index")
        os.environ.pop("ELASTICSEARCH_URL", None)
        os.environ.setdefault("DEBUG", "true")
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import django

        django.setup()
        import kb_suggest_latency as latency
        from django.core.management import call_command
        from django.test import Client, override_settings

        from accounts.services import save_franchise, save_user
        from knowledge_base import search_backends

        call_command("migrate", verbosity=0, interactive=False)
        latency.build_corpus(args.articles)
        call_command("rebuild_index", interactive=False, verbosity=0)
        franchise = save_franchise(code="bench", name="Bench")[0]
        user = save_user(username="bench", role="franchisee", franchise=franchise, password="x-Bench-123")[0]
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        if args.dense:
            latency.fake_vectors(args.articles)
        paths = [("lexical", False)] + ([("hybrid", True)] if args.dense else [])
        samples = {(path, forms): ([], []) for path, _ in paths for forms in ("max", "sum")}
        for _ in range(args.rounds):
            for path, dense_on in paths:
                for forms in ("max", "sum"):
                    search_backends.WORD_FORMS = forms
                    with override_settings(KB_DENSE_SEARCH=dense_on):
                        wall, cpu = latency.time_path(client, "/kb/suggest/", 1, uncached=dense_on)
                    samples[(path, forms)][0].extend(wall)
                    samples[(path, forms)][1].extend(cpu)
        import time

        from haystack import connections

        from knowledge_base import search
        from knowledge_base.spelling import vocabulary_for

        backend = connections["default"].get_backend()
        vocabulary = vocabulary_for(backend, statuses=["published"])
        plans = [search.build_query(q, vocabulary=vocabulary) for q in latency.QUERIES]
        search_cpu: dict[str, list[float]] = {"max": [], "sum": []}
        for _ in range(args.search_rounds):
            for forms in ("max", "sum"):
                search_backends.WORD_FORMS = forms
                for plan in plans:
                    started = time.process_time()
                    backend.kb_search(plan.groups, field_boosts=search.FIELD_BOOSTS, statuses=["published"], limit=15)
                    search_cpu[forms].append((time.process_time() - started) * 1000)
        search_backends.WORD_FORMS = "max"
        report = {"articles": args.articles, "rounds": args.rounds, "load_average_1m": round(os.getloadavg()[0], 2)}
        for (path, forms), (wall, cpu) in samples.items():
            report[f"{path} suggest, forms {forms}"] = {
                "requests": len(wall),
                "wall_p50_ms": round(latency.percentile(wall, 50), 1),
                "wall_p95_ms": round(latency.percentile(wall, 95), 1),
                "cpu_p50_ms": round(latency.percentile(cpu, 50), 1),
                "cpu_p95_ms": round(latency.percentile(cpu, 95), 1),
            }
        for forms, cpu in search_cpu.items():
            report[f"kb_search only, forms {forms}"] = {
                "calls": len(cpu),
                "cpu_mean_ms": round(sum(cpu) / len(cpu), 2),
                "cpu_p50_ms": round(latency.percentile(cpu, 50), 2),
                "cpu_p95_ms": round(latency.percentile(cpu, 95), 2),
            }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
