"""Opt-in heap diagnostic of a benchmark's Daphne process (benchmarks/idle_sockets.py --heap).

Put this folder first on PYTHONPATH of the server and set HEAPDIAG_DIR: Python imports this
module at start-up (`sitecustomize`). On SIGUSR1 the process writes, into HEAPDIAG_DIR:

- `census-<n>.json`: every object the garbage collector tracks, counted by type, with the
  shallow size (`sys.getsizeof`) of each type's instances, after a full collection;
- `snapshot-<n>.pickle`: a tracemalloc snapshot when tracing is on (PYTHONTRACEMALLOC=<frames>);
- `malloc-<n>.json`: glibc's `mallinfo2()` (bytes in use vs. held free by the allocator) and
  the process's resident memory, to tell Python objects from allocator fragmentation.

`<n>` counts the signals (1, 2, …). Nothing runs unless the signal is sent; never used by the
portal itself.
"""

from __future__ import annotations

import os

if os.environ.get("HEAPDIAG_DIR"):
    import collections
    import contextlib
    import ctypes
    import gc
    import json
    import signal
    import sys
    import tracemalloc
    from pathlib import Path

    _out = Path(os.environ["HEAPDIAG_DIR"])
    _count = [0]

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
                *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
            )
        ]

    def _mallinfo() -> dict:
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = _Mallinfo2
            info = libc.mallinfo2()
            return {name: getattr(info, name) for name, _ in _Mallinfo2._fields_}
        except (OSError, AttributeError):
            return {}

    def _rss_kb() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _type_name(kind: type) -> str:
        return f"{kind.__module__}.{kind.__qualname__}"

    def _dump(signum, frame) -> None:
        _count[0] += 1
        n = _count[0]
        gc.collect()
        counts: collections.Counter[str] = collections.Counter()
        sizes: collections.Counter[str] = collections.Counter()
        for obj in gc.get_objects():
            name = _type_name(type(obj))
            counts[name] += 1
            with contextlib.suppress(Exception):  # a type whose __sizeof__ fails
                sizes[name] += sys.getsizeof(obj)
        census = {name: [counts[name], sizes[name]] for name in counts}
        (_out / f"census-{n}.json").write_text(json.dumps(census))
        (_out / f"malloc-{n}.json").write_text(
            json.dumps(
                {
                    "rss_kb": _rss_kb(),
                    "mallinfo2": _mallinfo(),
                    "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None,
                }
            )
        )
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(_out / f"snapshot-{n}.pickle"))
        # pymalloc's own arenas (mmap, not in mallinfo): written by C to fd 2, sent to a file
        sys.stderr.flush()
        saved = os.dup(2)
        with open(_out / f"pymalloc-{n}.txt", "wb") as stats:
            os.dup2(stats.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        (_out / f"done-{n}").write_text("")

    signal.signal(signal.SIGUSR1, _dump)
