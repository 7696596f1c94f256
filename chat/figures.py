"""Chat figures for the supervisors (dashboard and /agent/reports/figures/), in the database.

Waiting time: creation → accepted by an agent; first response: creation → the agent's first
message; handle time: accepted → closed; CSAT: the franchisee's post-chat rating (1–5). All over
the conversations *opened* in the period; averages (portable: PostgreSQL and SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chat.models import Conversation, Message

PERIODS = (7, 30)
CACHE_KEY = "chat:figures"
CACHE_SECONDS = 60


@dataclass
class ChatFigures:
    chats: int
    answered: int
    avg_wait: timedelta | None
    avg_first_response: timedelta | None
    avg_handle: timedelta | None
    csat: float | None
    ratings: int
    days: int | None = None


def _between(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _first_agent_message() -> Subquery:
    first = Message.objects.filter(conversation=OuterRef("pk"), author=OuterRef("agent"), kind=Message.Kind.USER)
    return Subquery(first.order_by("id").values("created_at")[:1])


AGGREGATES = {
    "chats": Count("id"),
    "answered": Count("id", filter=Q(accepted_at__isnull=False)),
    "avg_wait": Avg(_between("accepted_at", "created_at")),
    "avg_first_response": Avg(_between("first_reply_at", "created_at")),
    "avg_handle": Avg(_between("closed_at", "accepted_at"), filter=Q(accepted_at__isnull=False)),
    "csat": Avg("rating"),
    "ratings": Count("rating"),
}


def opened_between(start: datetime, end: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        first_reply_at=_first_agent_message()
    )


def _figures(values: dict, days: int | None = None) -> ChatFigures:
    return ChatFigures(**{name: values[name] for name in AGGREGATES}, days=days)


def chat_figures(start: datetime, end: datetime) -> ChatFigures:
    """The whole team over [start, end): one aggregate query."""
    return _figures(opened_between(start, end).aggregate(**AGGREGATES))


def chat_breakdown(start: datetime, end: datetime, by: str) -> dict[int, ChatFigures]:
    """Figures per agent (`by="agent"`) or per franchise (`by="franchise"`): one grouped query."""
    rows = opened_between(start, end).values(by).annotate(**AGGREGATES).order_by()
    return {row[by]: _figures(row) for row in rows if row[by] is not None}


def chat_periods(now: datetime | None = None) -> list[ChatFigures]:
    """The last 7 and 30 days (the dashboard, beside the ticket figures)."""
    now = now or timezone.now()
    return [_figures(opened_between(now - timedelta(days=days), now).aggregate(**AGGREGATES), days) for days in PERIODS]


def cached_chat_periods() -> list[ChatFigures]:
    figures = cache.get(CACHE_KEY)
    if figures is None:
        figures = chat_periods()
        cache.set(CACHE_KEY, figures, CACHE_SECONDS)
    return figures
