"""Haystack engines with analyzers for Spanish and English support articles.

- `KBWhooshEngine` (embedded default): every text field uses analysis.SearchAnalyzer (stop words,
  Spanish + English stems, accent folding), `spell` keeps folded surface words for "did you
  mean", keyword fields (status, slug, language, category) are exact IDs usable as filters and
  facets, and the query parser ORs terms (search.py writes explicit, escaped queries).
- `KBElasticsearchEngine` (scale-out, `ELASTICSEARCH_URL`): the same fields mapped with a
  Spanish analyzer (lowercase, Spanish + English stop words, ASCII folding, light Spanish and
  English stemmers).
"""

from __future__ import annotations

from haystack.backends import BaseEngine
from haystack.backends.elasticsearch7_backend import (
    Elasticsearch7SearchBackend,
    Elasticsearch7SearchQuery,
)
from haystack.backends.whoosh_backend import WhooshSearchBackend, WhooshSearchQuery
from haystack.exceptions import SkipDocument
from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.matching import NullMatcher
from whoosh.matching.binary import DisjunctionMaxMatcher
from whoosh.qparser import OrGroup, QueryParser
from whoosh.sorting import Count, FieldFacet

from knowledge_base.analysis import (
    WORD_RE,
    SearchAnalyzer,
    SpellingAnalyzer,
    analyzed_forms,
    exact_terms,
    is_stop_word,
    whole_word_terms,
)

KEYWORD_FIELDS = {"slug", "status", "language", "category_slug"}
TEXT_FIELDS = {"text", "title", "tags", "summary"}
STORED_ONLY_FIELDS = {"category_name", "translation_group"}
SECONDARY_FIELDS = {"title", "text"}
#: Every status the index may hold (archived articles are removed from it).
HIDEABLE_STATUSES = ("draft", "in_review", "published")
#: Documents from which a load into an empty index uses the bulk writer (see KBWhooshBackend.update).
BULK_LOAD_MIN = 1_000
#: Memory of the bulk writer's postings pool. Haystack's default (128 MB) spills 10,000 articles
#: to disk in runs that are merged again: 45 s of CPU instead of 28 s (docs/KNOWLEDGE_BASE.md).
BULK_LOAD_LIMIT_MB = 1024
#: Postings a query may score (see _within_budget): bounds the cost of a query in big indexes.
POSTINGS_BUDGET = 2_500
#: How the analysed forms of one query word combine in a field: "max" (each word counts once per
#: field, see _word_clause) or "sum" (every matching form adds: the scoring until issue 18's follow-up).
WORD_FORMS = "max"


class KBWhooshBackend(WhooshSearchBackend):
    def build_schema(self, fields):
        content_field_name, schema = super().build_schema(fields)
        rebuilt = {}
        for name, field in schema.items():
            if name in TEXT_FIELDS:
                rebuilt[name] = TEXT(stored=name != "tags", analyzer=SearchAnalyzer(), phrase=False)
            elif name == "spell":
                rebuilt[name] = TEXT(stored=False, analyzer=SpellingAnalyzer(), phrase=False)
            elif name in KEYWORD_FIELDS:
                rebuilt[name] = ID(stored=True, sortable=True)
            elif name in STORED_ONLY_FIELDS:
                rebuilt[name] = ID(stored=True)
            else:
                rebuilt[name] = field
        return content_field_name, Schema(**rebuilt)

    def update(self, index, iterable, commit=True):
        """Index documents; a big load into an empty index (rebuild_index) takes the bulk path.

        Haystack's writer looks up an older copy of every document and sorts postings in a
        128 MB pool that spills to disk. Into an empty index there is no older copy, so
        `add_document` is enough, and a bigger pool writes one segment without merging runs.
        (Whoosh's multiprocess writer was measured too: more CPU in all, for pickling, and no
        faster on a busy 2-core machine.)
        """
        if not self.setup_complete:
            self.setup()
        self.index = self.index.refresh()
        if len(iterable) < BULK_LOAD_MIN or self.index.doc_count_all() > 0:
            return super().update(index, iterable, commit=commit)
        writer = self.index.writer(limitmb=BULK_LOAD_LIMIT_MB)
        try:
            for obj in iterable:
                try:
                    doc = index.full_prepare(obj)
                except SkipDocument:
                    continue
                doc = {key: self._from_python(value) for key, value in doc.items() if key != "boost"}
                writer.add_document(**doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def setup(self):
        super().setup()
        # Queries come from search.build_query with explicit operators; OR joins the several
        # stems one word analyses into.
        self.parser = QueryParser(self.content_field_name, schema=self.schema, group=OrGroup)

    # --- The knowledge base's fast path -------------------------------------------------
    # Haystack's generic Whoosh search() runs every narrow query as a separate unlimited search
    # and opens new readers on each call; the suggest box cannot afford that with 10,000
    # articles. kb_search builds the Whoosh query directly from the query plan, filters with
    # zero-score clauses inside the same query, reuses one searcher until the index changes
    # and counts or facets only when asked.

    def _kb_searcher(self):
        if not self.setup_complete:
            self.setup()
        searcher = getattr(self, "_kb_cached_searcher", None)
        if searcher is not None and not searcher.up_to_date():
            # Not searcher.refresh(): it reuses segment readers and misses deletions.
            searcher.close()
            searcher = None
        if searcher is None:
            self.index = self.index.refresh()
            searcher = self.index.searcher()
        self._kb_cached_searcher = searcher
        return searcher

    def kb_search(self, groups, *, field_boosts, statuses, category=None, limit=10, facets=False, count=False) -> dict:
        """Top hits for query groups: [[(alternative text, weight, whole word), ...] per query word]."""
        searcher = self._kb_searcher()
        if searcher.doc_count() == 0:
            return {"hits": [], "total": 0, "facets": []}
        per_word: list[list[tuple[int, tuple, wq.Query]]] = []
        for group in groups:
            weights: dict[tuple[str, str], float] = {}
            origin: dict[tuple[str, str], int] = {}  # the alternative a (field, form) term stands for
            compound = []
            for number, (text, weight, exact) in enumerate(group):
                forms = whole_word_terms(text) if exact else analyzed_forms(text)
                if not forms:
                    continue
                if len(text.split()) > 1:  # a multi-word synonym: all of its words, in the body
                    compound.append(
                        (
                            0,
                            (number, "phrase"),
                            _all_words(text, weight)
                            if exact
                            else wq.And([wq.Term("text", f) for f in dict.fromkeys(forms)], boost=weight),
                        )
                    )
                    continue
                for field_name, boost in field_boosts:
                    if weight < 1.0 and field_name not in SECONDARY_FIELDS:
                        continue  # synonyms and corrections: title and body only (fewer terms, faster)
                    for form in forms:
                        key = (field_name, form)
                        if boost * weight > weights.get(key, 0.0):
                            weights[key] = boost * weight
                            origin[key] = number
            terms = compound + [
                (frequency, (origin[(f, form)], f), wq.Term(f, form, boost=b))
                for (f, form), b in weights.items()
                if (frequency := searcher.doc_frequency(f, form))
            ]
            if terms:
                per_word.append(terms)
        clauses = [_word_clause(kept) for kept in _within_budget(per_word)]
        if not clauses:
            return {"hits": [], "total": 0, "facets": []}
        # Visibility: exclude the (few) hidden documents rather than intersect with the (many)
        # visible ones, so the cost does not grow with the size of the index.
        query = _union(clauses)
        hidden = [status for status in HIDEABLE_STATUSES if status not in statuses]
        if hidden:
            query = wq.AndNot(query, wq.Or([wq.Term("status", status) for status in hidden]))
        if category:
            query = wq.And([query, wq.ConstantScoreQuery(wq.Term("category_slug", category), 0.0)])
        kwargs = {"limit": limit}
        if facets:
            kwargs["groupedby"] = FieldFacet("category_slug", maptype=Count)
        results = searcher.search(query, **kwargs)
        hits = [dict(hit.fields(), score=hit.score) for hit in results]
        facet_counts = []
        if facets:
            facet_counts = sorted(results.groups("category_slug").items(), key=lambda kv: (-kv[1], kv[0]))
        total = len(results) if (count or facets) else results.scored_length()
        return {"hits": hits, "total": total, "facets": facet_counts}


def _within_budget(per_word: list[list[tuple[int, tuple, wq.Query]]]) -> list[list[tuple[tuple, wq.Query]]]:
    """Keep each word's rarest term, then the rarest others until POSTINGS_BUDGET is spent.

    Scoring cost grows with the postings of the query's terms. In a large index the most common
    terms carry the least BM25 weight, so they are the ones left out; small indexes never reach
    the budget and are searched in full. Terms are (postings, clause key, query) and come back
    as (clause key, query).
    """
    kept: list[list[tuple[tuple, wq.Query]]] = [[] for _ in per_word]
    rest: list[tuple[int, int, tuple, wq.Query]] = []
    spent = 0
    for number, terms in enumerate(per_word):
        ordered = sorted(terms, key=lambda item: item[0])
        kept[number].append(ordered[0][1:])
        spent += ordered[0][0]
        rest += [(frequency, number, key, term) for frequency, key, term in ordered[1:]]
    for frequency, number, key, term in sorted(rest, key=lambda item: item[0]):
        if spent + frequency > POSTINGS_BUDGET:
            break
        kept[number].append((key, term))
        spent += frequency
    return kept


def _word_clause(terms: list[tuple[tuple, wq.Query]]) -> wq.Query:
    """One query word: each of its alternatives scores once per field, then those scores add up.

    The analysis indexes a word under up to three stems (analysis.word_forms: `cajero` -> `cajer`,
    `cajero`; `venta` -> `vent`, `venta`) and a synonym under up to four whole-word forms
    (`=recibos`, `=recibo`, `=recib`). Adding the score of every form made a word count once,
    twice or three times depending on how many distinct stems the stemmers happen to produce
    for it, and on whether the document has the word as written or inflected. With WORD_FORMS
    "max" (the default) the forms of one alternative in one field are a disjunction scored by
    the best of them, so every word counts once per field; the fields (title, tags, summary,
    body) and the alternatives (the word, its correction, each synonym: different words) still
    add up. "sum" is the scoring before (benchmarks/kb_relevance.py --word-forms sum).
    """
    if WORD_FORMS == "sum":
        return _union([term for _, term in terms])
    by_key: dict[tuple, list[wq.Query]] = {}
    for key, term in terms:
        by_key.setdefault(key, []).append(term)
    return _union([BestOf(forms) if len(forms) > 1 else forms[0] for forms in by_key.values()])


class _BestOfMatcher(DisjunctionMaxMatcher):
    """Whoosh's DisjunctionMaxMatcher (2.7.4) with two bugs fixed.

    - `score()` returns the larger of the two sub-matchers' scores even when they stand on
      different documents, so a document matched by one form got the score of another
      document's posting of the other form. Here it is the score of the sub-matcher(s) on the
      current document, like UnionMatcher's, with max instead of +.
    - `replace()` returns a NullMatcher as soon as *one* side is exhausted (`not (a and b)`
      where `not (a or b)` was meant), dropping the rest of the other side's documents when
      the collector prunes by quality.
    """

    def score(self):
        a, b = self.a, self.b
        if not a.is_active():
            return b.score()
        if not b.is_active():
            return a.score()
        id_a, id_b = a.id(), b.id()
        if id_a < id_b:
            return a.score()
        if id_b < id_a:
            return b.score()
        return max(a.score(), b.score())

    def replace(self, minquality=0):
        # A document's score is max(a, b): it reaches `minquality` only if one side does on its
        # own, so a side whose best possible score is below it can be dropped (exactly), and each
        # side may prune with the same `minquality` (Whoosh's version has this, and the bug).
        a, b = self.a, self.b
        if minquality:
            if a.is_active() and a.max_quality() < minquality:
                a = NullMatcher()
            if b.is_active() and b.max_quality() < minquality:
                b = NullMatcher()
        if not (a.is_active() or b.is_active()):
            return NullMatcher()
        if not a.is_active():
            return b.replace(minquality)
        if not b.is_active():
            return a.replace(minquality)
        new_a, new_b = a.replace(minquality), b.replace(minquality)
        if not (new_a.is_active() or new_b.is_active()):
            return NullMatcher()
        if not new_a.is_active():
            return new_b
        if not new_b.is_active():
            return new_a
        if new_a is not self.a or new_b is not self.b:
            return self.__class__(new_a, new_b)
        return self


class BestOf(wq.DisjunctionMax):
    """A disjunction scored by its best-scoring subquery on each document (_BestOfMatcher)."""

    def _matcher(self, subs, searcher, context):
        reader = searcher.reader()
        return self._tree_matcher(subs, _BestOfMatcher, searcher, context, lambda q: q.estimate_size(reader))


def _all_words(text: str, weight: float) -> wq.Query:
    """Every (non stop) word of a phrase as a whole word, in any of its singular/plural forms."""
    words = [w for w in WORD_RE.findall(text.lower()) if not is_stop_word(w)]
    return wq.And([wq.Or([wq.Term("text", t) for t in exact_terms(w)]) for w in words], boost=weight)


def _union(subqueries: list) -> wq.Or:
    return wq.Or(subqueries)


class KBWhooshEngine(BaseEngine):
    backend = KBWhooshBackend
    query = WhooshSearchQuery


class KBElasticsearchBackend(Elasticsearch7SearchBackend):
    DEFAULT_SETTINGS = {
        "settings": {
            "analysis": {
                "filter": {
                    "kb_spanish_stop": {"type": "stop", "stopwords": ["_spanish_", "_english_"]},
                    "kb_spanish_stemmer": {"type": "stemmer", "language": "light_spanish"},
                    "kb_english_stemmer": {"type": "stemmer", "language": "light_english"},
                },
                "analyzer": {
                    "kb_spanish": {
                        "tokenizer": "standard",
                        # Fold first: accented and unaccented spellings reach the (light, rule-based)
                        # stemmer as the same string, so `contrasena` meets `contraseñas`.
                        "filter": [
                            "lowercase",
                            "kb_spanish_stop",
                            "asciifolding",
                            "kb_spanish_stemmer",
                            "kb_english_stemmer",
                        ],
                    },
                    "kb_folded": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
                },
            }
        }
    }

    def build_schema(self, fields):
        content_field_name, mapping = super().build_schema(fields)
        for name in list(mapping):
            if name in TEXT_FIELDS:
                mapping[name] = {
                    "type": "text",
                    "analyzer": "kb_spanish",
                    "fields": {"folded": {"type": "text", "analyzer": "kb_folded"}},
                }
            elif name == "spell":
                mapping[name] = {"type": "text", "analyzer": "kb_folded"}
            elif name in KEYWORD_FIELDS or name in STORED_ONLY_FIELDS:
                mapping[name] = {"type": "keyword"}
        return content_field_name, mapping


class KBElasticsearchEngine(BaseEngine):
    backend = KBElasticsearchBackend
    query = Elasticsearch7SearchQuery
