"""The one search function behind /kb/search/ and /kb/suggest/ (and the relevance benchmark).

A query is turned into an explicit, escaped backend query: every word (stop words dropped) is
searched in title, tags, summary and body with decreasing boosts, together with its
correction when the word is unknown (one-letter typos) and its domain synonyms at a lower
weight; words are OR-ed so a colloquial description still ranks the article that shares
most of its (stemmed, accent-folded) words first. Users never write backend syntax: only
letters and digits reach the backend, so `AND (`, quotes, `*`, `~` or `:` can never break it.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext
from haystack import connections
from haystack.query import SearchQuerySet

from accounts.access import is_agent
from knowledge_base.analysis import WORD_RE, fold, is_stop_word, query_words, word_forms
from knowledge_base.models import UNCATEGORIZED, Article, Category
from knowledge_base.spelling import vocabulary_for
from knowledge_base.synonyms import SYNONYM_WEIGHT, synonyms_of

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_LIMIT = 50
#: title > tags > summary > body
FIELD_BOOSTS = (("title", 3.0), ("tags", 2.0), ("summary", 1.5), ("text", 1.0))
CORRECTION_WEIGHT = 0.8
SNIPPET_CHARS = 180
SNIPPET_SCAN_CHARS = 5_000  # look for the snippet in the first part of long articles only
_SLUG_RE = re.compile(r"^[-a-z0-9]{1,120}$")


@dataclass(frozen=True)
class SearchHit:
    slug: str
    title: str
    url: str
    snippet: str  # sanitized HTML: escaped text and <mark> around matched words
    score: float
    category_name: str = ""
    category_slug: str = ""
    status: str = Article.Status.PUBLISHED
    language: str = "es"

    def as_json(self) -> dict:
        return {"slug": self.slug, "title": self.title, "url": self.url, "snippet": self.snippet, "score": self.score}


@dataclass(frozen=True)
class Facet:
    slug: str
    name: str
    count: int


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0
    suggestion: str | None = None
    facets: list[Facet] = field(default_factory=list)
    category: str | None = None

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass
class QueryPlan:
    """What a user's text becomes: the backend query, the words to highlight, "did you mean"."""

    query_string: str = ""
    groups: list[list[tuple[str, float]]] = field(default_factory=list)
    highlight_forms: set[str] = field(default_factory=set)
    suggestion: str | None = None


def _term(text: str) -> str:
    """A word or phrase in backend syntax: only word characters survive, phrases get quotes."""
    words = WORD_RE.findall(text)
    if not words:
        return ""
    return words[0].lower() if len(words) == 1 else '"' + " ".join(w.lower() for w in words) + '"'


def build_query(text: str, *, vocabulary=None) -> QueryPlan:
    plan = QueryPlan()
    words = query_words((text or "")[:MAX_QUERY_CHARS])
    clauses: list[str] = []
    corrected_words: list[str] = []
    changed = False
    for word in words:
        corrected_words.append(word)
        if is_stop_word(word) or len(word) > 40:
            continue
        alternatives: list[tuple[str, float]] = [(word, 1.0)]
        if vocabulary is not None and len(word) >= 4 and not word.isdigit() and not vocabulary.knows(word):
            correction = vocabulary.correct(fold(word))
            if correction:
                alternatives.append((correction, CORRECTION_WEIGHT))
                corrected_words[-1] = correction
                changed = True
        for base, weight in list(alternatives):
            alternatives.extend((synonym, weight * SYNONYM_WEIGHT) for synonym in synonyms_of(base))
        plan.groups.append(alternatives)
        parts = []
        seen: set[str] = set()
        for alternative, weight in alternatives:
            term = _term(alternative)
            if not term or term in seen:
                continue
            seen.add(term)
            if " " not in alternative:
                plan.highlight_forms.update(word_forms(alternative.lower()))
            for field_name, boost in FIELD_BOOSTS:
                parts.append(f"{field_name}:{term}^{boost * weight:.2f}")
        if parts:
            clauses.append("(" + " OR ".join(parts) + ")")
    plan.query_string = " OR ".join(clauses)
    if changed:
        plan.suggestion = " ".join(corrected_words)
    return plan


def visible_statuses(user) -> list[str]:
    """Franchisees only ever find published articles; agents also drafts and those in review."""
    if is_agent(user):
        return [Article.Status.PUBLISHED, Article.Status.IN_REVIEW, Article.Status.DRAFT]
    return [Article.Status.PUBLISHED]


def search_articles(
    query: str, *, user, limit: int = 10, category: str | None = None, with_facets: bool = True
) -> SearchResult:
    """Ranked articles the user may see for a free-text query (never raises on bad input)."""
    query = (query or "")[:2000]
    category = category if category and _SLUG_RE.match(category) else None
    result = SearchResult(query=query, category=category)
    limit = max(1, min(int(limit or 10), MAX_LIMIT))
    try:
        vocabulary = vocabulary_for(connections["default"].get_backend(), statuses=visible_statuses(user))
        plan = build_query(query, vocabulary=vocabulary)
        result.suggestion = plan.suggestion
        if not plan.query_string:
            return result
        backend = connections["default"].get_backend()
        if hasattr(backend, "kb_search"):
            found = backend.kb_search(
                plan.groups, field_boosts=FIELD_BOOSTS, statuses=visible_statuses(user), category=category,
                limit=limit, facets=with_facets,
            )  # fmt: skip
            raw_hits = [_StoredHit(**hit) for hit in found["hits"]]
            result.total = found["total"]
            result.facets = _facet_list(found["facets"])
        else:
            statuses = " OR ".join(visible_statuses(user))
            base = SearchQuerySet().models(Article).raw_search(plan.query_string).narrow(f"status:({statuses})")
            sqs = base.narrow(f'category_slug:"{category}"') if category else base
            raw_hits = list(sqs[:limit])
            result.total = sqs.count()
            if with_facets:
                counts = (base.facet("category_slug").facet_counts() or {}).get("fields", {}).get("category_slug", [])
                result.facets = _facet_list(counts)
    except Exception:  # a search problem must never break the page the user is on
        logger.exception("knowledge base search failed for %r", query[:100])
        return result
    for raw in raw_hits:
        slug = raw.slug or ""
        result.hits.append(
            SearchHit(
                slug=slug,
                title=raw.title or "",
                url=reverse("knowledge_base:article", kwargs={"slug": slug}),
                snippet=make_snippet(raw.text or raw.summary or "", plan.highlight_forms),
                score=round(float(raw.score or 0), 4),
                category_name=raw.category_name or "",
                category_slug=raw.category_slug or "",
                status=raw.status or "",
                language=raw.language or "",
            )
        )
    return result


class _StoredHit:
    """A stored Whoosh document seen through the attributes of a Haystack SearchResult."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name: str):
        return None


def _facet_list(counts) -> list[Facet]:
    counts = [(slug, count) for slug, count in counts if slug and count]
    names = dict(Category.objects.filter(slug__in=[slug for slug, _ in counts]).values_list("slug", "name"))
    names[UNCATEGORIZED] = gettext("Sin categoría")
    return [Facet(slug=slug, name=names.get(slug, slug), count=count) for slug, count in counts]


def make_snippet(text: str, forms: set[str], size: int = SNIPPET_CHARS) -> str:
    """An escaped excerpt around the densest run of matched words, matches in <mark>."""
    text = text[:SNIPPET_SCAN_CHARS]
    matches = [m for m in WORD_RE.finditer(text) if forms.intersection(word_forms(m.group().lower()))]
    if not matches:
        cut = text[:size]
        return html.escape(cut + ("…" if len(text) > size else ""))
    best_start, best_count = matches[0].start(), 0
    for i, match in enumerate(matches):
        count = sum(1 for other in matches[i:] if other.end() - match.start() <= size)
        if count > best_count:
            best_start, best_count = match.start(), count
    start = max(0, best_start - 40)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best_start else start
    end = min(len(text), start + size)
    pieces = ["…"] if start else []
    cursor = start
    for match in matches:
        if match.start() < start or match.end() > end:
            continue
        pieces.append(html.escape(text[cursor : match.start()]))
        pieces.append("<mark>" + html.escape(match.group()) + "</mark>")
        cursor = match.end()
    pieces.append(html.escape(text[cursor:end]))
    if end < len(text):
        pieces.append("…")
    return "".join(pieces)
