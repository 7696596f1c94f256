"""Typo tolerance and "did you mean": a one-edit corrector over the published vocabulary.

The vocabulary is the set of folded words of the articles the asking user may read (published
ones for franchisees: the index's `spell` field of live documents with Whoosh, the database
otherwise) and how many of those articles use each; whether a typed word is "known" is asked of
the same articles, so neither a suggestion nor its absence reveals a draft. Corrections use a
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
_cache: dict[str, tuple[object, object]] = {}  # key -> (index generation, value)


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


def vocabulary_for(backend, statuses: Iterable[str] = ("published",)) -> Vocabulary:
    """The vocabulary of the articles in `statuses` (those the asking user may read).

    Whoosh: the current index, counting only live documents in those statuses (a deleted or
    re-indexed document keeps its terms in the lexicon until a merge, so the raw term list would
    still hold the words of an article that was unpublished). Other backends: the database.
    """
    statuses = tuple(sorted(set(statuses)))
    if hasattr(backend, "_kb_searcher"):
        return _whoosh_vocabulary(backend, statuses)
    return _database_vocabulary(statuses)


def _cached(key: str, version: object, build):
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == version:
            return hit[1]
    value = build()
    with _lock:
        _cache[key] = (version, value)
    return value


KNOWN_FIELDS = ("title", "tags", "summary", "text")


def _whoosh_vocabulary(backend, statuses: tuple[str, ...]) -> Vocabulary:
    searcher = backend._kb_searcher()
    reader = searcher.reader()
    version = reader.generation()
    key = f"whoosh:{backend.path}:{','.join(statuses)}"

    def readable() -> frozenset[int]:
        """Live documents (iter_docs skips deleted ones) in the allowed statuses."""
        return _cached(
            key + ":docs",
            version,
            lambda: frozenset(n for n, stored in reader.iter_docs() if stored.get("status") in statuses),
        )

    def in_readable(field: str, text: str) -> bool:
        if not reader.doc_frequency(field, text):
            return False
        docs = readable()
        return any(n in docs for n in reader.postings(field, text).all_ids())

    def build() -> Corrector:
        if "spell" not in reader.indexed_field_names():
            return Corrector({})
        docs = readable()
        frequencies = {}
        for term, _info in reader.iter_field("spell"):
            count = sum(1 for n in reader.postings("spell", term).all_ids() if n in docs)
            if count:
                frequencies[term.decode("utf-8")] = count
        return Corrector(frequencies)

    def known(word: str) -> bool:
        forms = word_forms(word.lower())
        return any(in_readable(field, form) for field in KNOWN_FIELDS for form in forms)

    return Vocabulary(lambda: _cached(key, version, build), known)


def _database_vocabulary(statuses: tuple[str, ...]) -> Vocabulary:
    from knowledge_base.models import Article
    from knowledge_base.rendering import markdown_to_text

    readable = Article.objects.filter(status__in=statuses)
    version = tuple(readable.aggregate(n=Count("id"), last=Max("updated_at")).values())

    def build() -> Corrector:
        counts: Counter[str] = Counter()
        for title, tags, summary, body in readable.values_list("title", "tags", "summary", "body").iterator():
            counts.update(set(_words([title, tags, summary, markdown_to_text(body)])))
        return Corrector(dict(counts))

    def corrector() -> Corrector:
        return _cached(f"database:{','.join(statuses)}", version, build)

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
