"""Turning a conversation or a ticket into a short search query, and comparing two texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from knowledge_base.analysis import WORD_RE, fold, is_stop_word, word_forms

QUERY_CHARS = 200  # what knowledge_base.search reads of a query
QUERY_WORDS = 12
MIN_WORD = 3


def key_words(first: str, rest: Iterable[str] = (), *, limit: int = QUERY_WORDS) -> list[str]:
    """The words a search should use: those of `first` (a topic or a subject) in order, then
    the most frequent words of `rest` (the messages, newest first), stop words and short words
    dropped, each word once (compared accent-folded)."""
    words: list[str] = []
    seen: set[str] = set()

    def take(word: str) -> None:
        key = fold(word)
        if key not in seen and len(key) >= MIN_WORD and not key.isdigit() and not is_stop_word(word):
            seen.add(key)
            words.append(word)

    for word in WORD_RE.findall((first or "").lower()):
        take(word)
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for text in rest:
        for word in WORD_RE.findall((text or "").lower()[:2000]):
            counts[word] += 1
            order.setdefault(word, len(order))
    for word, _count in sorted(counts.items(), key=lambda item: (-item[1], order[item[0]])):
        if len(words) >= limit:
            break
        take(word)
    return words[:limit]


def query_from(first: str, rest: Iterable[str] = ()) -> str:
    """key_words() joined and cut to what the knowledge-base search reads."""
    query = ""
    for word in key_words(first, rest):
        if len(query) + len(word) + 1 > QUERY_CHARS:
            break
        query = f"{query} {word}".strip()
    return query


_word_forms = lru_cache(maxsize=50_000)(word_forms)  # the candidates' words repeat: stem each once


def stems(text: str) -> frozenset[frozenset[str]]:
    """The words of a text (stop words dropped), each as the set of its folded stems."""
    return frozenset(
        frozenset(_word_forms(word))
        for word in WORD_RE.findall((text or "").lower()[:3000])
        if not is_stop_word(word) and not word.isdigit()
    )


def similarity(a: frozenset[frozenset[str]], b: frozenset[frozenset[str]]) -> float:
    """Share of the words of both texts that the other text also has (0–1; a word matches when
    they share a stem: `imprime` ~ `imprimía`, `datáfono` ~ `datafono`)."""
    if not a or not b:
        return 0.0
    forms_a = set().union(*a)
    forms_b = set().union(*b)
    matched = sum(1 for word in a if word & forms_b) + sum(1 for word in b if word & forms_a)
    return matched / (len(a) + len(b))
