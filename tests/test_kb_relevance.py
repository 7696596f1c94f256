"""Relevance on the shared evaluation set: recall@3 >= 0.9 (benchmarks/kb_relevance.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "kb_eval"


@pytest.mark.slow
def test_recall_at_3_on_shared_eval_set():
    if not (EVAL / "articles.json").exists():
        pytest.skip(f"evaluation set not found at {EVAL}")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kb_relevance.py"), "--articles", str(EVAL / "articles.json"),
         "--queries", str(EVAL / "queries.json"), "--no-baseline"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=True,
    )  # fmt: skip
    report = json.loads(completed.stdout[completed.stdout.index("{") :])
    assert report["queries"] >= 90
    assert report["recall@3"] >= 0.9, report
    assert report["mrr@10"] >= 0.7, report
