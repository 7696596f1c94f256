"""Profile the hot path of a benchmark with py-spy and print where its time goes.

    .venv/bin/python benchmarks/profile_hot.py tickets_pages
    .venv/bin/python benchmarks/profile_hot.py chat_scale --top 25

Runs the benchmark (short sizes) under `py-spy record --subprocesses` (so Daphne processes it
starts are sampled too), keeps only the samples taken inside the measured phase (stacks through
a frame named in HOT below — the data loading before it is left out), and prints the functions
of the project with the share of those samples spent in them (inclusive), then the leaf
functions (self time). The raw collapsed stacks stay in var/profiles/<name>.txt
(flamegraph-compatible).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY_SPY = Path(sys.executable).with_name("py-spy")
PROJECT = ("accounts/", "chat/", "knowledge_base/", "notifications/", "support_portal/", "tickets/")

# benchmark → (arguments, frames that mark the measured phase)
HOT: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "tickets_pages": (["--quick"], ("measure (tickets_pages.py",)),
    "kb_suggest_latency": (["--quick"], ("suggest (knowledge_base/views.py",)),
    "notification_latency": (["--quick"], ("notify (notifications/services.py", "NotificationConsumer")),
    "chat_scale": (["--levels", "20", "--seconds", "15"], ("ChatConsumer", "chat/consumers.py")),
    "chat_load": (["--quick"], ("ChatConsumer", "chat/consumers.py")),
    "idle_sockets": (["--quick"], ("ChatConsumer", "chat/consumers.py")),
    "kb_relevance": ([], ("search_articles (knowledge_base/search.py",)),
}


def summarise(path: Path, markers: tuple[str, ...], top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not any(marker in stack for marker in markers):
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        leaf[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "no samples in the measured phase"
    lines = [f"{total} samples in the measured phase", "", "| inclusive | function (project code) |", "|---|---|"]
    project = [(frame, n) for frame, n in inclusive.most_common() if any(f"({p}" in frame for p in PROJECT)]
    lines += [f"| {100 * n / total:.1f}% | `{frame}` |" for frame, n in project[:top]]
    lines += ["", "| self | leaf function |", "|---|---|"]
    lines += [f"| {100 * n / total:.1f}% | `{frame}` |" for frame, n in leaf.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=sorted(HOT))
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (Python CPU time)")
    args = parser.parse_args(argv)
    arguments, markers = HOT[args.benchmark]
    out = ROOT / "var" / "profiles" / f"{args.benchmark}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(PY_SPY), "record", "--subprocesses", "--nolineno", "-r", str(args.rate), "-f", "raw"]
    command += ["--gil"] if args.gil else []
    command += ["-o", str(out), "--", sys.executable, f"benchmarks/{args.benchmark}.py", *arguments]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(summarise(out, markers, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
