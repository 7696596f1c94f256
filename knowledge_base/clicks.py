"""Click-through as a ranking signal, guarded against feedback loops.

A naive "boost what gets clicked" loop entrenches whatever is ranked first: people click the top
result because it is on top. The signal here is clicks over *expected* clicks (COEC): for every
time a query showed an article at rank r, the expected clicks grow by P(r), the click rate of
rank r measured over all searches (smoothed towards a prior curve). An article clicked as
often as its position predicts scores 1 — no boost, whatever its rank — so blind clicking on the
first result changes nothing; only an article clicked more than its position explains is lifted.

Further guards: a query needs MIN_IMPRESSIONS logged searches from MIN_USERS different users;
only clicks not followed by a ticket within 30 minutes count (satisfied clicks); the signal is a
third, low-weight list in the rank fusion and only reorders articles the search already found
(it never brings in an article). Users are counted, never exposed.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import timezone

from knowledge_base.models import DEFLECTION_WINDOW, SearchLog

WINDOW = timedelta(days=90)
MAX_RANK = 10
MIN_IMPRESSIONS = 5
MIN_USERS = 3
MIN_LIFT = 1.2  # clicks must beat their position's expectation by 20 %
SMOOTHING = 5.0
PRIOR_CURVE = [0.30, 0.15, 0.10, 0.07, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02]
CACHE_SECONDS = 600
SCAN_LIMIT = 500


def enabled() -> bool:
    return bool(getattr(settings, "KB_CLICK_SIGNAL", True))


def _satisfied_clicks(logs):
    from tickets.models import Ticket

    unsatisfied = Ticket.objects.filter(
        requester=OuterRef("user"),
        created_at__gte=OuterRef("updated_at"),
        created_at__lte=OuterRef("updated_at") + DEFLECTION_WINDOW,
    )
    return logs.annotate(unsatisfied=Exists(unsatisfied))


def position_click_rates() -> list[float]:
    """P(click at rank r), r = 1..10, over every logged search (smoothed towards PRIOR_CURVE)."""
    cached = cache.get("kb-click-rates")
    if cached is not None:
        return cached
    impressions = [0] * MAX_RANK
    clicks = [0] * MAX_RANK
    rows = SearchLog.objects.filter(created_at__gte=timezone.now() - WINDOW).order_by("-created_at")
    for shown, rank in rows.values_list("shown", "clicked_rank")[:20_000]:
        for r in range(min(len(shown), MAX_RANK)):
            impressions[r] += 1
        if rank and rank <= MAX_RANK:
            clicks[rank - 1] += 1
    rates = [(clicks[r] + SMOOTHING * PRIOR_CURVE[r]) / (impressions[r] + SMOOTHING) for r in range(MAX_RANK)]
    cache.set("kb-click-rates", rates, CACHE_SECONDS)
    return rates


def lift_for(normalized: str, *, rates: list[float] | None = None) -> dict[str, float]:
    """slug -> clicks / expected clicks for this (normalized) query, when the evidence suffices."""
    if not normalized:
        return {}
    key = f"kb-click-lift:{hash(normalized)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rates = rates or position_click_rates()
    logs = _satisfied_clicks(
        SearchLog.objects.filter(normalized=normalized, created_at__gte=timezone.now() - WINDOW)
    ).order_by("-created_at")[:SCAN_LIMIT]
    expected: dict[str, float] = {}
    clicked: dict[str, int] = {}
    users: set[int] = set()
    n = 0
    for shown, slug, user_id, unsatisfied in logs.values_list("shown", "clicked__slug", "user_id", "unsatisfied"):
        n += 1
        users.add(user_id)
        for r, shown_slug in enumerate(shown[:MAX_RANK]):
            expected[shown_slug] = expected.get(shown_slug, 0.0) + rates[r]
        if slug and not unsatisfied:
            clicked[slug] = clicked.get(slug, 0) + 1
    lift: dict[str, float] = {}
    if n >= MIN_IMPRESSIONS and len(users) >= MIN_USERS:
        for slug, count in clicked.items():
            ratio = count / max(expected.get(slug, 0.0), 1e-6)
            if ratio >= MIN_LIFT:
                lift[slug] = round(ratio, 3)
    cache.set(key, lift, CACHE_SECONDS)
    return lift


def rerank(ranked: list[tuple[str, float]], lift: dict[str, float], *, weight: float, k: int = 60):
    """Add a low-weight RRF term for the lifted articles already in `ranked` (never new ones)."""
    if not lift or weight <= 0:
        return ranked
    present = {slug for slug, _ in ranked}
    order = [slug for slug, _ in sorted(lift.items(), key=lambda kv: -kv[1]) if slug in present]
    bonus = {slug: weight / (k + rank) * 1000 for rank, slug in enumerate(order, start=1)}
    position = {slug: i for i, (slug, _) in enumerate(ranked)}
    rescored = [(slug, round(score + bonus.get(slug, 0.0), 4)) for slug, score in ranked]
    return sorted(rescored, key=lambda item: (-item[1], position[item[0]]))
