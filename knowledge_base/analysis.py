"""Text analysis for Spanish + English search: tokens, stop words, stemming, accent folding.

Whoosh pickles the schema, so the analyzer classes live here (an importable module).

Every word is indexed (and queried) as the set of its forms:
- the Spanish stem of the word as written (`contraseñas` -> `contraseñ`),
- the Spanish stem of its accent-folded spelling (`contrasenas` -> `contrasen`), after restoring
  the accent of `-cion`/`-sion` endings so that `actualizacion` and `actualización` meet,
- the English stem of the folded word (`receipts` -> `receipt`),
all accent-folded at the end. A query meets a document when any of those forms meet, so
`contrasena` finds `contraseña`, `datafono` finds `datáfono` and `printing` finds `prints`.

Beside the stems, each word is also indexed as whole-word terms (`=recibos`, `=recibo`: the
folded word and its candidate singulars, see exact_forms). Synonym expansions search those only,
so an expansion never matches by a stem another word shares (`recibo` vs `recibido`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer
from whoosh.lang import stemmer_for_language
from whoosh.lang.stopwords import stoplists

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_spanish_stem = stemmer_for_language("es")
_english_stem = stemmer_for_language("en")


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Lowercase and strip accents (ñ becomes n, like users type it on a phone)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Negations and "sin" carry meaning in symptoms ("sin conexión"), but "no" is in almost every
# support text and BM25 gives it ~no weight anyway; we drop it with the other function words.
_KEEP = {"sin", "contra", "antes", "durante"}
STOP_WORDS: frozenset[str] = frozenset(
    {fold(w) for w in stoplists["es"] | stoplists["en"] if fold(w) not in _KEEP}
    | {"hacer", "puedo", "puede", "como", "quiero", "favor", "hola", "gracias", "dice", "pone", "sale", "salen"}
)


def _restore_accent(word: str) -> str:
    """`actualizacion` -> `actualización` so the Spanish stemmer strips the suffix."""
    if len(word) > 5 and word.endswith(("cion", "sion")):
        return word[:-2] + "ón"
    return word


@lru_cache(maxsize=200_000)
def word_forms(word: str) -> tuple[str, ...]:
    """The folded stems a lowercase word is indexed under (see module docstring)."""
    folded = fold(word)
    forms = [
        fold(_spanish_stem(word)),
        fold(_spanish_stem(_restore_accent(folded))),
        fold(_english_stem(folded)),
    ]
    return tuple(dict.fromkeys(form for form in forms if form))


#: Prefix of the whole-word terms indexed beside the stems (stems never contain it).
EXACT = "="


@lru_cache(maxsize=200_000)
def exact_forms(word: str) -> tuple[str, ...]:
    """The folded word, its candidate singulars and genderless forms (`recibos` -> `recibos`, `recibo`, `recib`).

    Whole-word matching for synonyms: plural-insensitive, but never a stem shared with other
    words (`recibo` and `recibido` have no form in common).
    """
    folded = fold(word)
    forms = [folded]
    if len(folded) > 4 and folded.endswith("es"):
        forms.append(folded[:-2])
    if len(folded) > 3 and folded.endswith("s"):
        forms.append(folded[:-1])
    # Spanish gender: `rota`, `roto`, `rotas` share `rot`; still no stem (`recibido` -> `recibid`).
    forms += [form[:-1] for form in forms if len(form) > 3 and form[-1] in "ao"]
    return tuple(dict.fromkeys(forms))


def exact_terms(word: str) -> tuple[str, ...]:
    """exact_forms as index terms (prefixed with EXACT)."""
    return tuple(EXACT + form for form in exact_forms(word))


@lru_cache(maxsize=200_000)
def _indexed_forms(word: str) -> tuple[str, ...]:
    """Stems, then whole-word terms, of a document word (nothing for a stop word)."""
    return () if fold(word) in STOP_WORDS else word_forms(word) + exact_terms(word)


@lru_cache(maxsize=200_000)
def _query_forms(word: str) -> tuple[str, ...]:
    return () if fold(word) in STOP_WORDS else word_forms(word)


def analyzed_forms(text: str) -> list[str]:
    """The stems of every word of `text` (stop words dropped), in order: what a query word meets."""
    return [form for word in WORD_RE.findall(text) for form in _query_forms(word.lower())]


def whole_word_terms(text: str) -> list[str]:
    """The whole-word index terms of every word of `text` (stop words dropped), in order."""
    return [
        term for word in WORD_RE.findall(text) if fold(word) not in STOP_WORDS for term in exact_terms(word.lower())
    ]


def is_stop_word(word: str) -> bool:
    return fold(word) in STOP_WORDS


class MultiStemFilter(Filter):
    """Drop stop words and emit every folded stem of each token at the token's position."""

    def __call__(self, tokens):
        for token in tokens:
            text = token.text
            if len(text) > 40:
                continue
            for form in _indexed_forms(text):
                token.text = form
                yield token


class FoldFilter(Filter):
    """Accent folding without stemming: the surface words for spelling suggestions."""

    def __call__(self, tokens):
        for token in tokens:
            text = fold(token.text)
            if 3 <= len(text) <= 30 and not text.isdigit():
                token.text = text
                yield token


def SearchAnalyzer():
    """Analyzer of every full-text field (title, tags, summary, body)."""
    return RegexTokenizer(WORD_RE) | LowercaseFilter() | MultiStemFilter()


def SpellingAnalyzer():
    """Analyzer of the `spell` field: folded surface words, the vocabulary of "did you mean"."""
    return RegexTokenizer(WORD_RE) | LowercaseFilter() | FoldFilter()


def query_words(text: str, limit: int = 16) -> list[str]:
    """The lowercase words of a user's query, syntax characters and emoji dropped."""
    return [w.lower() for w in WORD_RE.findall(text or "")][:limit]


def normalized_query(text: str) -> str:
    """The folded words of a query: how the search log groups queries (and the click signal)."""
    return " ".join(fold(word) for word in query_words(text, limit=30))[:200]
