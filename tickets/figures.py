"""Team figures for the agent dashboard, computed in the database.

Durations are working time of each ticket's support calendar (stored on the ticket when the
first response or the resolution happens), so a weekend does not count against the team.

PostgreSQL computes the medians with percentile_cont in one aggregate query; other databases
(SQLite in the embedded setup) use a portable count + ordered slice per median.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
)
from django.db.models.functions import Cast, Coalesce, Extract
from django.utils import timezone

from tickets.models import ACTIVE_STATUSES, Status, Ticket

PERIODS = (7, 30)
CACHE_KEY = "tickets:team_figures:v2"  # v2: language-neutral (labels translated when read)
CACHE_SECONDS = 60


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5) over a numeric expression."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _duration(end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F("created_at"), output_field=DurationField())


@dataclass
class PeriodFigures:
    days: int
    median_first_response: timedelta | None
    median_resolution: timedelta | None
    resolved: int
    sla_compliance: float | None  # percent of resolved tickets that met both targets
    csat: float | None  # average rating 1–5
    ratings: int


@dataclass
class TeamFigures:
    """Language-neutral (it is cached and shared by readers of both languages): labels are
    translated when read, in the reader's language."""

    open_counts: list[tuple[str, int]]  # (status code, count)
    periods: list[PeriodFigures]

    @property
    def open_by_status(self) -> list[tuple[str, str, int]]:
        """(status, label in the active language, count)."""
        return [(status, str(Status(status).label), count) for status, count in self.open_counts]


def _compliant() -> Q:
    first_ok = Q(first_response_at__lte=F("first_response_due")) | Q(
        first_response_at__isnull=True, resolved_at__lte=F("first_response_due")
    )
    return Q(resolved_at__lte=F("resolution_due")) & first_ok


def _seconds(value) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))


#: The stored working-time column of each end timestamp (set by the services when it happens).
WORKING_SECONDS = {"first_response_at": "first_response_seconds", "resolved_at": "resolution_seconds"}


def _median_portable(queryset: QuerySet[Ticket], end: str) -> timedelta | None:
    """Median in Python of the period's rows (the embedded SQLite setup: small tables), one query.

    Working seconds where stored, else wall-clock time from creation (rows from before calendars).
    """
    rows = queryset.filter(**{f"{end}__isnull": False}).annotate(took=_duration(end))
    values = sorted(
        timedelta(seconds=seconds) if seconds is not None else took
        for seconds, took in rows.values_list(WORKING_SECONDS[end], "took")
    )
    n = len(values)
    middle = values[max(n - 1, 0) // 2 : n // 2 + 1]
    return sum(middle, timedelta(0)) / len(middle) if middle else None


def _median(end: str, condition: Q) -> Median:
    """Median working seconds (wall-clock seconds for rows from before calendars) on PostgreSQL."""
    seconds = Coalesce(Cast(WORKING_SECONDS[end], FloatField()), Extract(_duration(end), "epoch"))
    return Median(seconds, filter=condition)


def team_figures(now: datetime | None = None) -> TeamFigures:
    """Open tickets by status and, for the last 7 and 30 days, medians, SLA compliance and CSAT.

    Three aggregate queries, each a range scan on one indexed timestamp (resolved_at,
    first_response_at, rated_at) over the longest period, plus one count by status.
    """
    now = now or timezone.now()
    since = {days: now - timedelta(days=days) for days in PERIODS}
    oldest = since[max(PERIODS)]
    postgres = connection.vendor == "postgresql"

    resolved_aggregates, first_aggregates, rated_aggregates = {}, {}, {}
    for days, start in since.items():
        resolved = Q(resolved_at__gte=start)
        resolved_aggregates[f"resolved_{days}"] = Count("id", filter=resolved)
        resolved_aggregates[f"compliant_{days}"] = Count("id", filter=resolved & _compliant())
        rated_aggregates[f"csat_{days}"] = Avg("rating", filter=Q(rated_at__gte=start))
        rated_aggregates[f"ratings_{days}"] = Count("id", filter=Q(rated_at__gte=start))
        if postgres:
            resolved_aggregates[f"resolution_{days}"] = _median("resolved_at", resolved)
            first_aggregates[f"first_{days}"] = _median("first_response_at", Q(first_response_at__gte=start))
    totals = Ticket.objects.filter(resolved_at__gte=oldest).aggregate(**resolved_aggregates)
    totals |= Ticket.objects.filter(rated_at__gte=oldest, rating__isnull=False).aggregate(**rated_aggregates)
    if postgres:
        totals |= Ticket.objects.filter(first_response_at__gte=oldest).aggregate(**first_aggregates)

    periods = []
    for days, start in since.items():
        if postgres:
            first = _seconds(totals[f"first_{days}"])
            resolution = _seconds(totals[f"resolution_{days}"])
        else:
            first = _median_portable(Ticket.objects.filter(first_response_at__gte=start), "first_response_at")
            resolution = _median_portable(Ticket.objects.filter(resolved_at__gte=start), "resolved_at")
        resolved = totals[f"resolved_{days}"]
        periods.append(
            PeriodFigures(
                days=days,
                median_first_response=first,
                median_resolution=resolution,
                resolved=resolved,
                sla_compliance=(100 * totals[f"compliant_{days}"] / resolved) if resolved else None,
                csat=totals[f"csat_{days}"],
                ratings=totals[f"ratings_{days}"],
            )
        )
    counts = dict(
        Ticket.objects.filter(status__in=ACTIVE_STATUSES)
        .values_list("status")
        .annotate(n=Count("*"))  # COUNT(*): an index-only scan of (status, resolution_due)
        .order_by()
        .values_list("status", "n")
    )
    open_counts = [(str(status), counts.get(status, 0)) for status in ACTIVE_STATUSES]
    return TeamFigures(open_counts=open_counts, periods=periods)


def cached_team_figures() -> TeamFigures:
    """team_figures() computed at most once a minute (the dashboard's figures may be 60 s old)."""
    figures = cache.get(CACHE_KEY)
    if figures is None:
        figures = team_figures()
        cache.set(CACHE_KEY, figures, CACHE_SECONDS)
    return figures
