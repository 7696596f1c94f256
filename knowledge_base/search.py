"""The one search function behind /kb/search/ and /kb/suggest/ (and the relevance benchmark).

A query is turned into an explicit, escaped backend query: every word (stop words dropped) is
searched in title, tags, summary and body (each scored on its own, then added), together with its
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

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext
from haystack import connections
from haystack.query import SearchQuerySet

from accounts.access import is_agent
from knowledge_base import clicks, dense, fusion
from knowledge_base.analysis import (
    WORD_RE,
    exact_terms,
    fold,
    is_stop_word,
    normalized_query,
    query_words,
    word_forms,
)
from knowledge_base.models import UNCATEGORIZED, Article, Category, display_name, reader_language
from knowledge_base.rendering import markdown_to_text
from knowledge_base.spelling import vocabulary_for
from knowledge_base.synonyms import SYNONYM_WEIGHT, synonyms_of

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_LIMIT = 50
#: Every field at the same weight. Each field is scored on its own (BM25, with its own length
#: normalisation) and the scores are added, so a word found in the short title already counts
#: more than the same word in a long body, and counts again when the body has it too. Extra title
#: boosts (3 / 2 / 1.5 / 1 for title / tags / summary / body until issue 18) mostly promoted the
#: sibling articles that share a title's device words over the one whose body has the symptom:
#: measured in docs/KNOWLEDGE_BASE.md ("Relevance").
FIELD_BOOSTS = (("title", 1.0), ("tags", 1.0), ("summary", 1.0), ("text", 1.0))
CORRECTION_WEIGHT = 0.8
SNIPPET_CHARS = 180
SNIPPET_SCAN_CHARS = 5_000  # look for the snippet in the first part of long articles only
#: Extra lexical hits fetched so that a page keeps `limit` hits after a pair of translations
#: collapses into the reader's one (_one_per_translation).
TRANSLATION_SLACK = 5
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

    @property
    def status_label(self) -> str:
        return str(Article.Status(self.status).label) if self.status in Article.Status.values else self.status

    @property
    def language_label(self) -> str:
        return str(Article.Language(self.language).label) if self.language in Article.Language.values else ""


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
    groups: list[list[tuple[str, float, bool]]] = field(default_factory=list)  # (text, weight, whole word)
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
        alternatives: list[tuple[str, float, bool]] = [(word, 1.0, False)]
        if vocabulary is not None and len(word) >= 4 and not word.isdigit() and not vocabulary.knows(word):
            correction = vocabulary.correct(fold(word))
            if correction:
                alternatives.append((correction, CORRECTION_WEIGHT, False))
                corrected_words[-1] = correction
                changed = True
        for base, weight, _exact in list(alternatives):
            # Synonyms match whole words only (never a stem another word shares).
            alternatives.extend((synonym, weight * SYNONYM_WEIGHT, True) for synonym in synonyms_of(base))
        plan.groups.append(alternatives)
        parts = []
        seen: set[str] = set()
        for alternative, weight, exact in alternatives:
            term = _term(alternative)
            if not term or term in seen:
                continue
            seen.add(term)
            if " " not in alternative:
                forms = exact_terms(alternative.lower()) if exact else word_forms(alternative.lower())
                plan.highlight_forms.update(forms)
            for field_name, boost in FIELD_BOOSTS:
                # Elasticsearch: `.folded` is the unstemmed subfield (search_backends.py).
                target = f"{field_name}.folded" if exact else field_name
                parts.append(f"{target}:{term}^{boost * weight:.2f}")
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


def search_mode() -> str:
    """settings.KB_SEARCH_MODE, or "auto": hybrid when dense search is enabled, else lexical."""
    mode = getattr(settings, "KB_SEARCH_MODE", "auto")
    if mode in ("dense", "hybrid"):
        return mode if dense.enabled() else "lexical"
    if mode == "lexical":
        return mode
    return "hybrid" if dense.enabled() else "lexical"


def search_articles(
    query: str,
    *,
    user,
    limit: int = 10,
    category: str | None = None,
    with_facets: bool = True,
    mode: str | None = None,
    language: str | None = None,
) -> SearchResult:
    """Ranked articles the user may see for a free-text query (never raises on bad input).

    `mode` is "lexical", "dense" or "hybrid"; by default hybrid when dense search is enabled
    (settings.KB_DENSE_SEARCH), else lexical. `language` is the reader's (default: the active
    one): of an article and its translation that both match, only the one in that language is
    returned, at the better rank of the two.
    """
    query = (query or "")[:2000]
    category = category if category and _SLUG_RE.match(category) else None
    result = SearchResult(query=query, category=category)
    limit = max(1, min(int(limit or 10), MAX_LIMIT))
    mode = mode or search_mode()
    statuses = visible_statuses(user)
    plan = QueryPlan()
    raw_hits: list = []
    facet_counts: list = []
    try:
        vocabulary = vocabulary_for(connections["default"].get_backend(), statuses=visible_statuses(user))
        plan = build_query(query, vocabulary=vocabulary)
        result.suggestion = plan.suggestion
        if mode != "dense" and plan.query_string:
            depth = limit + TRANSLATION_SLACK if mode == "lexical" else max(limit, fusion.DEPTH)
            raw_hits, result.total, facet_counts = _lexical(plan, statuses, category, depth, with_facets)
    except Exception:  # a search problem must never break the page the user is on
        logger.exception("knowledge base search failed for %r", query[:100])
        return result
    if mode != "lexical":
        try:
            dense_hits = dense.search(
                " ".join(query_words(query, limit=64)), statuses=statuses, category=category,
                limit=max(limit, fusion.DEPTH),
            )  # fmt: skip
        except Exception:
            logger.exception("dense knowledge base search failed for %r", query[:100])
            dense_hits = []
        raw_hits = _fused(
            raw_hits, dense_hits, limit=limit + TRANSLATION_SLACK, dense_only=mode == "dense", query=query
        )
        result.total = max(result.total, len(raw_hits))
    raw_hits, collapsed = _one_per_translation(raw_hits, reader_language(language))
    result.total = max(len(raw_hits[:limit]), result.total - collapsed)
    # The viewer's names of the categories (the index stores the Spanish one): the search page
    # only (facets); the suggest box and the API's search show no category.
    names = _category_names() if with_facets else {}
    result.facets = _facet_list(facet_counts, names)
    for raw in raw_hits[:limit]:
        slug = raw.slug or ""
        result.hits.append(
            SearchHit(
                slug=slug,
                title=raw.title or "",
                url=reverse("knowledge_base:article", kwargs={"slug": slug}),
                snippet=make_snippet(raw.text or raw.summary or "", plan.highlight_forms),
                score=round(float(raw.score or 0), 4),
                category_name=names.get(raw.category_slug or "", raw.category_name or ""),
                category_slug=raw.category_slug or "",
                status=raw.status or "",
                language=raw.language or "",
            )
        )
    return result


def _lexical(plan: QueryPlan, statuses: list[str], category: str | None, limit: int, with_facets: bool):
    """(hits, total, facets) of the Whoosh/Elasticsearch query."""
    backend = connections["default"].get_backend()
    if hasattr(backend, "kb_search"):
        found = backend.kb_search(
            plan.groups, field_boosts=FIELD_BOOSTS, statuses=statuses, category=category,
            limit=limit, facets=with_facets,
        )  # fmt: skip
        return [_StoredHit(**hit) for hit in found["hits"]], found["total"], found["facets"]
    joined = " OR ".join(statuses)
    base = SearchQuerySet().models(Article).raw_search(plan.query_string).narrow(f"status:({joined})")
    sqs = base.narrow(f'category_slug:"{category}"') if category else base
    counts = []
    if with_facets:
        counts = (base.facet("category_slug").facet_counts() or {}).get("fields", {}).get("category_slug", [])
    return list(sqs[:limit]), sqs.count(), counts


def _fused(
    lexical_hits: list, dense_hits: list[tuple[str, float]], *, limit: int, dense_only: bool, query: str
) -> list:
    """Fusion of both rankings (fusion.py: min-max scores or RRF) and the guarded click signal
    (clicks.py); articles found only densely are read from the DB."""
    by_slug = {hit.slug: hit for hit in lexical_hits}
    if dense_only:
        ranked = [(slug, score) for slug, score in dense_hits if score >= fusion.DENSE_MIN_SCORE]
    else:
        ranked = fusion.fuse([(hit.slug, float(hit.score or 0)) for hit in lexical_hits], dense_hits)
    if clicks.enabled():
        try:
            lift = clicks.lift_for(normalized_query(query))
        except Exception:  # the log is an optional signal: never fail a search over it
            logger.exception("click signal failed")
            lift = {}
        ranked = clicks.rerank(ranked, lift, weight=float(getattr(settings, "KB_CLICK_WEIGHT", 0.5)))
    ranked = ranked[:limit]
    missing = [slug for slug, _ in ranked if slug not in by_slug]
    if missing:
        for article in Article.objects.filter(slug__in=missing).select_related("category"):
            by_slug[article.slug] = _StoredHit(
                slug=article.slug, title=article.title, text=markdown_to_text(article.body)[:SNIPPET_SCAN_CHARS],
                summary=article.summary, status=article.status, language=article.language,
                category_slug=article.category.slug if article.category_id else UNCATEGORIZED,
                category_name=article.category.name if article.category_id else "",
                translation_group=str(article.translation_group or ""),
            )  # fmt: skip
    out = []
    for slug, score in ranked:
        hit = by_slug.get(slug)
        if hit is not None:
            hit.score = score
            out.append(hit)
    return out


def _one_per_translation(hits: list, language: str) -> tuple[list, int]:
    """Of hits that are translations of each other, one: the reader's language if among them,
    at the rank of the best of them. (hits, how many were dropped)."""
    out: list = []
    position: dict[str, int] = {}
    for hit in hits:
        group = getattr(hit, "translation_group", None) or ""
        if not group:
            out.append(hit)
            continue
        if group not in position:
            position[group] = len(out)
            out.append(hit)
            continue
        kept = out[position[group]]
        if kept.language != language and hit.language == language:
            hit.score = max(float(hit.score or 0), float(kept.score or 0))  # scores stay best first
            out[position[group]] = hit
    return out, len(hits) - len(out)


class _StoredHit:
    """A stored Whoosh document seen through the attributes of a Haystack SearchResult."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getattr__(self, name: str):
        return None


def _category_names() -> dict[str, str]:
    """slug → name in the active language, of every category (a short table), one query."""
    rows = Category.objects.values_list("slug", "name", "name_en")
    names = {slug: display_name(name, name_en) for slug, name, name_en in rows}
    names[UNCATEGORIZED] = ""
    return names


def _facet_list(counts, names: dict[str, str]) -> list[Facet]:
    counts = [(slug, count) for slug, count in counts if slug and count]
    shown = {**names, UNCATEGORIZED: gettext("Sin categoría")}
    return [Facet(slug=slug, name=shown.get(slug, slug), count=count) for slug, count in counts]


def _matches(word: str, forms: set[str]) -> bool:
    return bool(forms.intersection(word_forms(word)) or forms.intersection(exact_terms(word)))


def make_snippet(text: str, forms: set[str], size: int = SNIPPET_CHARS) -> str:
    """An escaped excerpt around the densest run of matched words, matches in <mark>."""
    text = text[:SNIPPET_SCAN_CHARS]
    matches = [m for m in WORD_RE.finditer(text) if _matches(m.group().lower(), forms)]
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
