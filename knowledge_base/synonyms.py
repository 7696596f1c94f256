"""Domain synonyms (SynonymGroup rows, edited by agents in the admin).

A query word that belongs to a group is also searched, with a lower weight, under the group's
other members. Members match whole words (analysis.exact_forms: accent-folded, plural-insensitive)
and never as stems, so `recibo` does not reach `recibido`. A query word is recognised as a member the
same way (`impresoras` belongs to the group of `impresora`; `recibido` to none).

Each process keeps the groups in memory and reloads them when the table changes (checked at most
once a second).
"""

from __future__ import annotations

import threading
import time

from knowledge_base.analysis import exact_forms, fold

SYNONYM_WEIGHT = 0.5
RELOAD_CHECK_SECONDS = 1.0


class _Index:
    def __init__(self, stamp, groups: list[list[str]]):
        self.stamp = stamp
        self.groups = groups
        keys: dict[str, set[int]] = {}
        for number, group in enumerate(groups):
            for member in group:
                for key in {fold(member)} if " " in member else exact_forms(member):
                    keys.setdefault(key, set()).add(number)
        self.keys = {key: tuple(sorted(numbers)) for key, numbers in keys.items()}


_lock = threading.Lock()
_cached: _Index | None = None
_checked_at = 0.0


def _stamp():
    from django.db.models import Count, Max

    from knowledge_base.models import SynonymGroup

    found = SynonymGroup.objects.aggregate(n=Count("pk"), latest=Max("updated_at"))
    return (found["n"], found["latest"])


def _index() -> _Index:
    global _cached, _checked_at
    from knowledge_base.models import SynonymGroup

    now = time.monotonic()
    if _cached is not None and now - _checked_at < RELOAD_CHECK_SECONDS:
        return _cached
    stamp = _stamp()
    _checked_at = now
    if _cached is None or _cached.stamp != stamp:
        with _lock:
            rows = SynonymGroup.objects.filter(active=True).values_list("terms", flat=True)
            from knowledge_base.models import split_terms

            _cached = _Index(stamp, [terms for terms in (split_terms(row) for row in rows) if len(terms) > 1])
    return _cached


def invalidate() -> None:
    global _cached, _checked_at
    _cached, _checked_at = None, 0.0


def groups() -> list[list[str]]:
    return _index().groups


def synonyms_of(word: str) -> list[str]:
    """Other members of the groups this word belongs to (recognised as whole words)."""
    index = _index()
    numbers: set[int] = set()
    for form in exact_forms(word):
        numbers.update(index.keys.get(form, ()))
    own = fold(word)
    out: dict[str, None] = {}
    for number in sorted(numbers):
        for member in index.groups[number]:
            if fold(member) != own:
                out[member] = None
    return list(out)
