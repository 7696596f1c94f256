"""Relevance on the shared evaluation set: recall@3 >= 0.9 (benchmarks/kb_relevance.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The public set lives in ../shared/kb_eval; a copy is kept in tests/data so a clone alone runs it.
SHARED_EVAL = ROOT.parent / "shared" / "kb_eval"
EVAL = SHARED_EVAL if (SHARED_EVAL / "articles.json").exists() else ROOT / "tests" / "data" / "kb_eval"


@pytest.mark.slow
def test_recall_at_3_on_shared_eval_set():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kb_relevance.py"), "--articles", str(EVAL / "articles.json"),
         "--queries", str(EVAL / "queries.json"), "--no-baseline"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=True,
    )  # fmt: skip
    report = json.loads(completed.stdout[completed.stdout.index("{") :])
    assert report["queries"] >= 90
    assert report["recall@3"] >= 0.9, report
    assert report["mrr@10"] >= 0.7, report
