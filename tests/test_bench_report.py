"""benchmarks/report.py keeps the hand-written sections of docs/PERFORMANCE.md and regenerates its block."""

from __future__ import annotations

import json

import pytest

from benchmarks import report
from benchmarks.run_all import parse_json_output

HAND_WRITTEN = "# Performance\n\nIntro by the team.\n\n## Notifications\n\nOur analysis: p99 met.\n"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    docs, results = tmp_path / "docs", tmp_path / "results"
    docs.mkdir()
    results.mkdir()
    monkeypatch.setattr(report, "DOCS", docs)
    monkeypatch.setattr(report, "REPORT", docs / "PERFORMANCE.md")
    monkeypatch.setattr(report, "RESULTS", results)
    monkeypatch.setattr(report, "NOTES", tmp_path / "notes")
    return docs, results


def _record(name: str, result: dict, status: str = "ok") -> dict:
    return {
        "benchmark": name,
        "command": f".venv/bin/python benchmarks/{name}.py --quick",
        "mode": "quick",
        "started": "2026-11-25T12:00:00+00:00",
        "duration_s": 1.0,
        "status": status,
        "result": result,
        "machine": {"cores": 2, "load_average_at_start": [0.5], "packages": {}},
    }


def test_generated_block_keeps_hand_written_sections_and_is_replaced_on_rerun(workspace):
    docs, results = workspace
    (docs / "PERFORMANCE.md").write_text(HAND_WRITTEN)
    notification = {
        "notifications": 200,
        "channel_layer": "redis",
        "database": "postgresql",
        "end_to_end": {"p50_ms": 4.0, "p90_ms": 5.0, "p99_ms": 12.0, "max_ms": 20.0, "mean_ms": 4.5},
        "goal_p99_ms": 50,
    }
    (results / "notification_latency.json").write_text(json.dumps(_record("notification_latency", notification)))

    report.write_report()
    first = (docs / "PERFORMANCE.md").read_text()
    assert "Our analysis: p99 met." in first and "Intro by the team." in first
    assert first.count(report.BEGIN) == 1 and first.count(report.END) == 1
    assert "| notifications: p99 < 50 ms | 12 ms | ✅ met |" in first
    assert "`/tickets/` and `/agent/` p95 < 150 ms at 100,000 tickets | not run yet | — not measured" in first

    notification["end_to_end"]["p99_ms"] = 80.0
    (results / "notification_latency.json").write_text(json.dumps(_record("notification_latency", notification)))
    report.write_report()
    second = (docs / "PERFORMANCE.md").read_text()
    assert second.count(report.BEGIN) == 1 and "Our analysis: p99 met." in second
    assert "| notifications: p99 < 50 ms | 80 ms | ❌ not met |" in second


def test_chat_scale_result_gives_ratio_table_and_plots(workspace):
    docs, results = workspace
    point = {
        "messages_per_s": 100.0,
        "p50_ms": 10.0,
        "p99_ms": 30.0,
        "daphne_cpu_ms_per_message": 5.0,
        "lost": 0,
        "duplicated": 0,
        "latencies_ms": [5.0, 8.0, 10.0, 12.0, 30.0],
    }
    result = {
        "one_daphne": [{**point, "conversations": 5}, {**point, "conversations": 20}],
        "two_daphne": [
            {**point, "conversations": 5, "messages_per_s": 120.0},
            {**point, "conversations": 20, "messages_per_s": 150.0},
        ],
        "ratio_two_over_one": [1.2, 1.5],
        "peak_messages_per_s": {"one": 100.0, "two": 150.0},
        "peak_ratio_two_over_one": 1.5,
        "seconds_per_point": 5,
        "warmup_s": 1,
        "lost": 0,
        "duplicated": 0,
    }
    (results / "chat_scale.json").write_text(json.dumps(_record("chat_scale", result)))
    report.write_report()
    text = (docs / "PERFORMANCE.md").read_text()
    assert "**1.5×** (same run)" in text
    for name in ("chat_throughput.png", "chat_latency.png", "chat_scale_ratio.png"):
        assert (docs / name).read_bytes().startswith(b"\x89PNG")
        assert f"({name})" in text


def test_failed_benchmark_is_reported_not_dropped(workspace):
    docs, results = workspace
    record = _record("tickets_pages", {}, status="failed")
    record["error"] = "Traceback ...\nRuntimeError: database is gone"
    (results / "tickets_pages.json").write_text(json.dumps(record))
    report.write_report()
    text = (docs / "PERFORMANCE.md").read_text()
    assert "No result: failed. RuntimeError: database is gone" in text


def test_benchmark_output_is_parsed_after_log_lines():
    assert parse_json_output('loading...\n{\n  "a": 1\n}\n') == {"a": 1}
    with pytest.raises(ValueError):
        parse_json_output("no json here")
