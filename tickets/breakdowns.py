"""Ticket and chat figures over a date range, per agent and per franchise (supervisors).

A constant number of grouped queries whatever the number of tickets: each one a range scan on an
indexed timestamp (created_at, resolved_at, first_response_at, rated_at; comments with recorded
minutes by created_at). Durations are averages of the stored working seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.models import Franchise, User
from tickets.figures import _compliant
from tickets.models import Comment, Ticket

MAX_DAYS = 366


@dataclass
class Row:
    """One line of a breakdown (an agent, a franchise, or the whole team)."""

    key: int | None
    name: str
    created: int = 0
    resolved: int = 0
    compliant: int = 0
    avg_first_response: timedelta | None = None
    avg_resolution: timedelta | None = None
    csat: float | None = None
    ratings: int = 0
    minutes: int = 0
    chat: object | None = None  # chat.figures.ChatFigures

    @property
    def sla_compliance(self) -> float | None:
        return 100 * self.compliant / self.resolved if self.resolved else None


@dataclass
class RangeFigures:
    start: date
    end: date  # inclusive
    team: Row
    by_agent: list[Row] = field(default_factory=list)
    by_franchise: list[Row] = field(default_factory=list)


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the portal's time zone."""
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _seconds(value) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def _grouped(by: str, since: datetime, until: datetime) -> dict:
    """{group key: {measure: value}} for `by` ("assignee" or "franchise"): one grouped query per
    timestamp range."""
    measures: dict = {}

    def merge(queryset, **aggregates) -> None:
        for row in queryset.values(by).annotate(**aggregates).order_by():
            key = row.pop(by)
            measures.setdefault(key, {}).update(row)

    tickets = Ticket.objects.all()
    merge(tickets.filter(created_at__gte=since, created_at__lt=until), created=Count("id"))
    merge(
        tickets.filter(resolved_at__gte=since, resolved_at__lt=until),
        resolved=Count("id"),
        compliant=Count("id", filter=_compliant()),
        avg_resolution=Avg("resolution_seconds"),
        n_resolution=Count("resolution_seconds"),
    )
    merge(
        tickets.filter(first_response_at__gte=since, first_response_at__lt=until),
        avg_first_response=Avg("first_response_seconds"),
        n_first_response=Count("first_response_seconds"),
    )
    merge(
        tickets.filter(rated_at__gte=since, rated_at__lt=until, rating__isnull=False),
        csat=Avg("rating"),
        ratings=Count("id"),
    )
    spent = Comment.objects.filter(created_at__gte=since, created_at__lt=until, time_spent_minutes__isnull=False)
    comment_key = {"assignee": "author", "franchise": "ticket__franchise"}[by]
    for row in spent.values(comment_key).annotate(m=Sum("time_spent_minutes")).order_by():
        measures.setdefault(row[comment_key], {})["minutes"] = row["m"]
    return measures


def _team(by_franchise: dict) -> dict:
    """The team's measures from the per-franchise ones (every ticket has a franchise): sums, and
    averages weighted by how many values each franchise averaged — no second scan of the table."""
    team: dict = {}
    for name in ("created", "resolved", "compliant", "ratings", "minutes"):
        team[name] = sum(values.get(name) or 0 for values in by_franchise.values())
    for average, weight in (
        ("avg_first_response", "n_first_response"),
        ("avg_resolution", "n_resolution"),
        ("csat", "ratings"),
    ):
        pairs = [(v[average], v.get(weight) or 0) for v in by_franchise.values() if v.get(average) is not None]
        total = sum(n for _, n in pairs)
        team[average] = sum(float(value) * n for value, n in pairs) / total if total else None
    return team


def _row(key, name: str, values: dict, chat=None) -> Row:
    return Row(
        key=key,
        name=name,
        created=values.get("created") or 0,
        resolved=values.get("resolved") or 0,
        compliant=values.get("compliant") or 0,
        avg_first_response=_seconds(values.get("avg_first_response")),
        avg_resolution=_seconds(values.get("avg_resolution")),
        csat=values.get("csat"),
        ratings=values.get("ratings") or 0,
        minutes=values.get("minutes") or 0,
        chat=chat,
    )


def range_figures(start: date, end: date) -> RangeFigures:
    """The team's, each agent's and each franchise's figures from `start` to `end` (inclusive)."""
    from chat import figures as chat_figures  # chat depends on tickets, not the other way round

    since, until = bounds(start, end)

    by_agent = _grouped("assignee", since, until)
    agent_chats = chat_figures.chat_breakdown(since, until, "agent")
    agents = User.objects.filter(
        Q(role__in=(User.Role.AGENT, User.Role.SUPERVISOR), is_active=True)
        | Q(pk__in=[k for k in (*by_agent, *agent_chats) if k])
    ).order_by("first_name", "username")
    agent_rows = [
        _row(user.pk, user.display_name, by_agent.get(user.pk, {}), agent_chats.get(user.pk)) for user in agents
    ]

    by_franchise = _grouped("franchise", since, until)
    team = _row(None, _("Equipo"), _team(by_franchise), chat_figures.chat_figures(since, until))
    franchise_chats = chat_figures.chat_breakdown(since, until, "franchise")
    franchises = Franchise.objects.filter(
        Q(active=True) | Q(pk__in=[k for k in (*by_franchise, *franchise_chats) if k])
    ).order_by("name")
    franchise_rows = [_row(f.pk, f.name, by_franchise.get(f.pk, {}), franchise_chats.get(f.pk)) for f in franchises]
    return RangeFigures(start=start, end=end, team=team, by_agent=agent_rows, by_franchise=franchise_rows)


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_header() -> list[str]:
    return [
        _("Ámbito"),
        _("Nombre"),
        _("Tickets abiertos"),
        _("Tickets resueltos"),
        _("Cumplimiento del SLA (%)"),
        _("Primera respuesta media (min)"),
        _("Resolución media (min)"),
        _("Satisfacción tickets (1–5)"),
        _("Valoraciones tickets"),
        _("Tiempo dedicado (min)"),
        _("Chats"),
        _("Chats atendidos"),
        _("Espera media chat (min)"),
        _("Primera respuesta media chat (min)"),
        _("Duración media chat (min)"),
        _("Satisfacción chat (1–5)"),
        _("Valoraciones chat"),
    ]


def csv_rows(figures: RangeFigures) -> list[list]:
    scopes = [(_("Equipo"), [figures.team]), (_("Agente"), figures.by_agent), (_("Franquicia"), figures.by_franchise)]
    lines = []
    for scope, rows in scopes:
        for row in rows:
            chat = row.chat
            lines.append(
                [
                    scope,
                    row.name,
                    row.created,
                    row.resolved,
                    _number(row.sla_compliance, 1),
                    _minutes(row.avg_first_response),
                    _minutes(row.avg_resolution),
                    _number(row.csat),
                    row.ratings,
                    row.minutes,
                    chat.chats if chat else 0,
                    chat.answered if chat else 0,
                    _minutes(chat.avg_wait) if chat else "",
                    _minutes(chat.avg_first_response) if chat else "",
                    _minutes(chat.avg_handle) if chat else "",
                    _number(chat.csat) if chat else "",
                    chat.ratings if chat else 0,
                ]
            )
    return lines


CACHE_SECONDS = 60


def cached_range_figures(start: date, end: date) -> RangeFigures:
    """range_figures() at most once a minute per range, zone and language (like the dashboard's)."""
    key = f"tickets:range_figures:{start}:{end}:{timezone.get_current_timezone_name()}:{get_language()}"
    figures = cache.get(key)
    if figures is None:
        figures = range_figures(start, end)
        cache.set(key, figures, CACHE_SECONDS)
    return figures
