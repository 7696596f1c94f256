"""Typo tolerance and "did you mean": a one-edit corrector over the published vocabulary.

The vocabulary is the set of folded words of published articles (the index's `spell` field
with Whoosh, the database otherwise) and how many articles use each. Corrections use a
symmetric one-deletion index (SymSpell style), so one lookup covers an insertion, a deletion,
a substitution or a swap of two neighbouring letters (`imrpesora` -> `impresora`) in
microseconds; the index is built lazily, once per index generation, only when a query has an
unknown word. That keeps "did you mean" out of the latency of ordinary queries.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

from django.db.models import Count, Max

from knowledge_base.analysis import WORD_RE, fold, word_forms

_lock = threading.Lock()
_cache: dict[str, tuple[object, Corrector]] = {}


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def one_edit_apart(a: str, b: str) -> bool:
    """Optimal string alignment distance == 1 (insert, delete, substitute, swap neighbours)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


class Corrector:
    def __init__(self, frequencies: dict[str, int]):
        self.frequencies = frequencies
        self._stems: set[str] | None = None
        self._by_delete: dict[str, list[str]] | None = None

    @property
    def stems(self) -> set[str]:
        if self._stems is None:
            self._stems = {form for word in self.frequencies for form in word_forms(word)}
        return self._stems

    def _index(self) -> dict[str, list[str]]:
        if self._by_delete is None:
            index: dict[str, list[str]] = {}
            for word in self.frequencies:
                if len(word) >= 3:
                    for key in _deletes(word) | {word}:
                        index.setdefault(key, []).append(word)
            self._by_delete = index
        return self._by_delete

    def correct(self, word: str) -> str | None:
        """The most frequent vocabulary word one edit away from `word` (folded), if any."""
        index = self._index()
        candidates: set[str] = set()
        for key in _deletes(word) | {word}:
            candidates.update(index.get(key, ()))
        candidates = {c for c in candidates if one_edit_apart(c, word)}
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda c: self.frequencies.get(c, 0))


class Vocabulary:
    """What the search function asks: is a word known, and what is its correction.

    `known(word)` answers from the index; the corrector is built only when a word is unknown.
    """

    def __init__(self, corrector: Callable[[], Corrector], known: Callable[[str], bool]):
        self._corrector = corrector
        self._known = known

    def knows(self, word: str) -> bool:
        return self._known(word)

    def correct(self, word: str) -> str | None:
        return self._corrector().correct(word)


def vocabulary_for(backend) -> Vocabulary:
    """The vocabulary of the current index (Whoosh) or of the published articles (others)."""
    if hasattr(backend, "_kb_searcher"):
        return _whoosh_vocabulary(backend)
    return _database_vocabulary()


def _cached(key: str, version: object, build) -> Corrector:
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == version:
            return hit[1]
    corrector = build()
    with _lock:
        _cache[key] = (version, corrector)
    return corrector


KNOWN_FIELDS = ("title", "tags", "summary", "text")


def _whoosh_vocabulary(backend) -> Vocabulary:
    searcher = backend._kb_searcher()
    reader = searcher.reader()
    version = reader.generation()

    def build() -> Corrector:
        if "spell" not in reader.indexed_field_names():
            return Corrector({})
        return Corrector({term.decode("utf-8"): info.doc_frequency() for term, info in reader.iter_field("spell")})

    def known(word: str) -> bool:
        forms = word_forms(word.lower())
        return any(reader.doc_frequency(field, form) for field in KNOWN_FIELDS for form in forms)

    return Vocabulary(lambda: _cached(f"whoosh:{backend.path}", version, build), known)


def _database_vocabulary() -> Vocabulary:
    from knowledge_base.models import Article
    from knowledge_base.rendering import markdown_to_text

    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    version = tuple(published.aggregate(n=Count("id"), last=Max("updated_at")).values())

    def build() -> Corrector:
        counts: Counter[str] = Counter()
        for title, tags, summary, body in published.values_list("title", "tags", "summary", "body").iterator():
            counts.update(set(_words([title, tags, summary, markdown_to_text(body)])))
        return Corrector(dict(counts))

    def corrector() -> Corrector:
        return _cached("database", version, build)

    def known(word: str) -> bool:
        vocabulary = corrector()
        return fold(word) in vocabulary.frequencies or any(f in vocabulary.stems for f in word_forms(word.lower()))

    return Vocabulary(corrector, known)


def _words(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        for word in WORD_RE.findall(text or ""):
            folded = fold(word)
            if 3 <= len(folded) <= 30 and not folded.isdigit():
                yield folded
