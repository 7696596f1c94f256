"""Reads of the desk helpers, each scoped to the asking user (through the owning apps' selectors).

- related_articles: knowledge-base articles for a conversation, a ticket or a typed query
  (knowledge_base.search.search_articles, so a franchisee only ever gets published articles).
- similar_tickets: resolved tickets with similar text, the ticket's franchise first, with how
  they were solved (agents only).
- same_problem: open tickets of the franchisee's own franchise a new ticket may repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.access import is_agent, is_franchisee
from accounts.models import User
from assist.text import key_words, query_from, similarity, stems
from chat import selectors as chat_selectors
from chat.models import Message
from knowledge_base.search import search_articles
from knowledge_base.selectors import visible_articles
from tickets import selectors as ticket_selectors
from tickets.models import ACTIVE_STATUSES, Comment, Status, Ticket

ARTICLES = 5
SIMILAR = 5
SAME_PROBLEM = 3
RECENT_MESSAGES = 20
RECENT_COMMENTS = 10
CANDIDATES = 300  # newest tickets sharing a word, re-ranked in Python
MIN_SIMILARITY = 0.2
PREFIX = 5  # a word is looked up by its first letters (imprime, impresora → "impri", "impre")


@dataclass(frozen=True)
class ArticleHint:
    slug: str
    title: str
    url: str
    summary: str
    snippet: str

    def as_json(self) -> dict:
        return {
            "slug": self.slug,
            "title": self.title,
            "url": self.url,
            "summary": self.summary,
            "snippet": self.snippet,
        }


def conversation_query(user: User, conversation_id: int) -> str:
    """The search text of a conversation the user may see (404 otherwise): its topic, then the
    words of its recent messages."""
    conversation = chat_selectors.get_conversation(user, conversation_id)
    bodies = (
        Message.objects.filter(conversation=conversation, kind=Message.Kind.USER)
        .order_by("-id")
        .values_list("body", flat=True)[:RECENT_MESSAGES]
    )
    return query_from(conversation.topic, bodies)


def ticket_query(user: User, ticket_id: int) -> str:
    """The search text of a ticket the user may see (404 otherwise): subject, description and
    recent public replies."""
    ticket = ticket_selectors.ticket_for(user, ticket_id)
    replies = (
        Comment.objects.filter(ticket=ticket, internal=False)
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)[:RECENT_COMMENTS]
    )
    return query_from(ticket.subject, [ticket.description, *replies])


def related_articles(user: User, query: str, *, limit: int = ARTICLES) -> list[ArticleHint]:
    """Articles the user may read for `query`, best first, with their summaries."""
    result = search_articles(query, user=user, limit=limit, with_facets=False)
    slugs = [hit.slug for hit in result.hits]
    summaries = dict(visible_articles(user).filter(slug__in=slugs).values_list("slug", "summary"))
    return [
        ArticleHint(hit.slug, hit.title, hit.url, summaries.get(hit.slug, ""), hit.snippet)
        for hit in result.hits
        if hit.slug in summaries
    ]


# --- similar tickets -------------------------------------------------------------------------


@dataclass(frozen=True)
class SimilarTicket:
    ticket: Ticket
    score: float
    same_franchise: bool
    solution: str  # the last public agent reply, else the last internal note (agents only)

    def as_json(self) -> dict:
        t = self.ticket
        return {
            "id": t.pk,
            "number": t.number,
            "subject": t.subject,
            "url": t.get_absolute_url(),
            "status": t.status,
            "status_label": Status(t.status).label,
            "franchise": t.franchise.name,
            "same_franchise": self.same_franchise,
            "score": round(self.score, 3),
            "solution": self.solution,
        }


def _similarity_text(subject: str, description: str) -> str:
    """What two tickets are compared on: the subject counts twice, the description's start once.

    Not `tickets.search.matching`: that is an all-words query for the ticket list, where this
    wants any key word as a candidate and a graded likeness (assist.text.similarity)."""
    return f"{subject} {subject} {description[:1000]}"


def _word_filter(words: list[str]) -> Q | None:
    condition = None
    for word in words:
        part = Q(subject__icontains=word[:PREFIX] if len(word) > PREFIX + 1 else word)
        condition = part if condition is None else condition | part
    return condition


def _ranked(candidates: QuerySet[Ticket], text: str, words: list[str]) -> list[tuple[Ticket, float]]:
    condition = _word_filter(words)
    if condition is None:
        return []
    mine = stems(text)
    rows = candidates.filter(condition).only("id", "subject", "description", "status", "franchise__name")
    rows = rows.select_related("franchise").order_by("-created_at", "-id")[:CANDIDATES]
    scored = []
    for ticket in rows:
        score = similarity(mine, stems(_similarity_text(ticket.subject, ticket.description)))
        if score >= MIN_SIMILARITY:
            scored.append((ticket, score))
    return scored


def _solutions(ticket_ids: list[int]) -> dict[int, str]:
    """The last public agent reply of each ticket, else its last internal note."""
    staff = [User.Role.AGENT, User.Role.SUPERVISOR]
    found: dict[int, tuple[bool, str]] = {}
    comments = (
        Comment.objects.filter(ticket_id__in=ticket_ids, author__role__in=staff)
        .order_by("ticket_id", "created_at", "id")
        .values_list("ticket_id", "internal", "body")
    )
    for ticket_id, internal, body in comments:
        public_known = ticket_id in found and not found[ticket_id][0]
        if not internal or not public_known:
            found[ticket_id] = (internal, body)
    return {ticket_id: body[:600] for ticket_id, (_internal, body) in found.items()}


def similar_tickets(user: User, ticket_id: int, *, limit: int = SIMILAR) -> list[SimilarTicket]:
    """Resolved or closed tickets whose text is like this ticket's, its franchise's first (agents)."""
    if not is_agent(user):
        return []
    ticket = ticket_selectors.ticket_for(user, ticket_id)
    text = _similarity_text(ticket.subject, ticket.description)
    words = key_words(ticket.subject, [ticket.description[:1000]], limit=8)
    candidates = (
        ticket_selectors.visible_tickets(user)
        .filter(status__in=[Status.RESOLVED, Status.CLOSED], merged_into__isnull=True)
        .exclude(pk=ticket.pk)
    )
    scored = _ranked(candidates, text, words)
    scored.sort(key=lambda item: (item[0].franchise_id != ticket.franchise_id, -item[1], -item[0].pk))
    best = scored[:limit]
    solutions = _solutions([t.pk for t, _score in best])
    return [
        SimilarTicket(t, score, t.franchise_id == ticket.franchise_id, solutions.get(t.pk, "")) for t, score in best
    ]


def same_problem(user: User, subject: str, description: str = "", *, limit: int = SAME_PROBLEM) -> list[SimilarTicket]:
    """Open tickets of the franchisee's own franchise that look like the one being written.

    Only ever the user's franchise: agents and users without a franchise get nothing."""
    if not is_franchisee(user) or not user.franchise_id:
        return []
    subject, description = (subject or "")[:200], (description or "")[:1000]
    words = key_words(subject, [description], limit=8)
    candidates = ticket_selectors.visible_tickets(user).filter(
        franchise_id=user.franchise_id, status__in=ACTIVE_STATUSES, merged_into__isnull=True
    )
    scored = _ranked(candidates, _similarity_text(subject, description), words)
    scored.sort(key=lambda item: (-item[1], -item[0].pk))
    return [SimilarTicket(t, score, True, "") for t, score in scored[:limit]]
