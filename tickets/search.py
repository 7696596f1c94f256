"""Ticket search: PostgreSQL full-text search (Spanish, accents optional), ranked; a simple fallback.

PostgreSQL: each ticket has two stored `tsvector` documents in `TicketSearch` — `public` (what a
franchisee may find: subject, description, public comments and the names of the files not
attached to internal notes) and `internal` (the same plus internal notes and their files, for
agents) — both GIN-indexed, with the text search configuration `portal_es` (Spanish stemming
after `unaccent`, migration 0009), weighted subject A, description B, comments and file names C.
The services call `refresh(ticket_ids)` in the transaction of every write that changes the text
(new ticket, comment, attachment, merge); `rebuild()` (`manage.py rebuild_ticket_search`) fills
every ticket, e.g. after a bulk load. Queries are `websearch_to_tsquery` (words, "phrases",
-exclusions, or) ranked by `ts_rank`.

SQLite (the embedded default): `icontains` over the same parts through subqueries, ranked
subject > description > comments and files.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from tickets.ids import parse_id
from tickets.models import Attachment, Comment, Ticket, TicketSearch

CONFIG = "portal_es"
QUERY_MAX = 100


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _document_sql(internal: bool) -> str:
    """The SQL expression of one document of the ticket `t` (see the module docstring)."""
    public_comment = "" if internal else " AND NOT c.internal"
    public_file = "" if internal else " AND (a.comment_id IS NULL OR NOT c.internal)"
    comments = f"SELECT string_agg(c.body, ' ') FROM tickets_comment c WHERE c.ticket_id = t.id{public_comment}"  # noqa: S608
    names = "a.original_name || ' ' || regexp_replace(a.original_name, '[._-]+', ' ', 'g')"
    join = "tickets_attachment a LEFT JOIN tickets_comment c ON c.id = a.comment_id"
    files = f"SELECT string_agg({names}, ' ') FROM {join} WHERE a.ticket_id = t.id{public_file}"  # noqa: S608
    return (
        f"setweight(to_tsvector('{CONFIG}', coalesce(t.subject, '')), 'A') || "
        f"setweight(to_tsvector('{CONFIG}', coalesce(t.description, '')), 'B') || "
        f"setweight(to_tsvector('{CONFIG}', coalesce(({comments}), '')), 'C') || "
        f"setweight(to_tsvector('{CONFIG}', coalesce(({files}), '')), 'C')"
    )


# constant SQL: `{where}` is one of two fixed conditions, the values are query parameters
_SELECT = f"SELECT t.id, {_document_sql(False)}, {_document_sql(True)}, now() FROM tickets_ticket t"  # noqa: S608
UPSERT = (
    "INSERT INTO tickets_ticketsearch (ticket_id, public, internal, updated_at) " + _SELECT + " WHERE {where} "
    "ON CONFLICT (ticket_id) DO UPDATE SET public = EXCLUDED.public, internal = EXCLUDED.internal, "
    "updated_at = EXCLUDED.updated_at"
)


def refresh(ticket_ids: Iterable[int]) -> None:
    """Recompute the stored documents of these tickets (PostgreSQL; nothing to do on SQLite)."""
    ids = sorted({int(pk) for pk in ticket_ids if pk})
    if not ids or not is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(UPSERT.format(where="t.id = ANY(%s)"), [ids])


def rebuild(batch: int = 5000, log=None) -> int:
    """Fill the documents of every ticket in id ranges of `batch`; returns the number of tickets."""
    if not is_postgres():
        return 0
    last = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    done = 0
    for start in range(0, last + 1, batch):
        with connection.cursor() as cursor:
            cursor.execute(UPSERT.format(where="t.id >= %s AND t.id < %s"), [start, start + batch])
            done += cursor.rowcount
        if log:
            log(f"{done} tickets indexed")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticketsearch")  # the planner needs the words' frequencies
    return done


def clean_query(q: str) -> str:
    # NUL can never match stored text, and PostgreSQL rejects it in a query parameter.
    return (q or "").replace("\x00", "").strip()[:QUERY_MAX]


def _number(q: str) -> int | None:
    return parse_id(q.upper().removeprefix("T-").lstrip("#"))


def matching(queryset: QuerySet[Ticket], q: str, *, internal: bool) -> QuerySet[Ticket]:
    """Tickets whose document matches `q` (or whose number is `q`); `internal` for agents."""
    q = clean_query(q)
    if not q:
        return queryset
    number = _number(q)
    by_number = Q(pk=number) if number is not None else Q(pk__in=[])
    if is_postgres():
        column = "search__internal" if internal else "search__public"
        query = SearchQuery(q, search_type="websearch", config=CONFIG)
        return queryset.filter(Q(**{column: query}) | by_number)
    return queryset.filter(_fallback(q, internal=internal) | by_number)


#: PostgreSQL ranks at most this many matches (the first ones in the list's own order), so a word
#: found in every ticket costs a bounded number of `ts_rank` calls, whatever the table size.
RANK_WINDOW = 1000


def ranked(queryset: QuerySet[Ticket], q: str, *, internal: bool, then: Iterable[str]) -> QuerySet[Ticket]:
    """Order matches best first (ties: the list's own order `then`); `matching` must be applied.

    On PostgreSQL the `ts_rank` of each candidate is a correlated lookup of its document, over the
    first RANK_WINDOW matches in the order `then` (newest first for /tickets/)."""
    q = clean_query(q)
    then = tuple(then)
    if not q:
        return queryset.order_by(*then)
    if is_postgres():
        column = "internal" if internal else "public"
        query = SearchQuery(q, search_type="websearch", config=CONFIG)
        documents = TicketSearch.objects.filter(pk=OuterRef("pk"))
        rank = Subquery(documents.annotate(rank=SearchRank(F(column), query)).values("rank")[:1])
        window = queryset.order_by(*then).values("pk")[:RANK_WINDOW]
        queryset = queryset.filter(pk__in=window)
    else:
        rank = Case(
            When(subject__icontains=q, then=Value(3)),
            When(description__icontains=q, then=Value(2)),
            default=Value(1),
            output_field=IntegerField(),
        )
    return queryset.annotate(search_rank=rank).order_by(F("search_rank").desc(nulls_first=True), *then)


def _fallback(q: str, *, internal: bool) -> Q:
    comments = Comment.objects.filter(body__icontains=q)
    files = Attachment.objects.filter(original_name__icontains=q)
    if not internal:
        comments = comments.filter(internal=False)
        files = files.exclude(comment__internal=True)
    return (
        Q(subject__icontains=q)
        | Q(description__icontains=q)
        | Q(pk__in=comments.values("ticket_id"))
        | Q(pk__in=files.values("ticket_id"))
    )
