"""Live counts of the /agent/ tabs without a COUNT per tab per request.

Each count is cached (key: the normalised filters, plus the agent for "mine"/"me" filters, so a
shared view's count is computed once for everyone). A request reads all its tabs' counts with one
`cache.get_many`; a count older than `TICKETS_TAB_COUNT_FRESH` seconds, or taken before the last
ticket change (`changed()`, a generation number the services bump after commit) and at least
RECOUNT_MIN_SECONDS old, is still shown while one Celery task (guarded by a `cache.add` lock)
recounts it; a count never seen is computed at once.
Counts are capped: COUNT(*) over `LIMIT TAB_COUNT_CAP + 1` rows, shown as "1000+", so one recount
reads at most that many index entries whatever the size of the table.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from tickets import selectors
from tickets.selectors import DashboardFilters

TAB_COUNT_CAP = 1000
KEEP_SECONDS = 24 * 3600
#: After a ticket change, a tab is recounted at most this often (seconds), in the background.
RECOUNT_MIN_SECONDS = 5
GENERATION_KEY = "tickets:tabcount:generation"


def fresh_seconds() -> int:
    return int(getattr(settings, "TICKETS_TAB_COUNT_FRESH", 30))


@dataclass(frozen=True)
class TabCount:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{TAB_COUNT_CAP}+" if self.capped else str(self.value)


def _key(user: User, filters: DashboardFilters) -> str:
    data = asdict(filters)
    data.pop("sort")  # the order does not change a count
    owner = user.pk if filters.per_user else 0
    digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:24]
    return f"tickets:tabcount:{owner}:{digest}"


def count(user: User, filters: DashboardFilters) -> TabCount:
    """The capped count itself (one query)."""
    rows = selectors.dashboard_queryset(user, filters).order_by().values("pk")[: TAB_COUNT_CAP + 1].count()
    return TabCount(min(rows, TAB_COUNT_CAP), rows > TAB_COUNT_CAP)


def changed() -> None:
    """A ticket changed (tickets.services, after commit): cached counts become stale — still shown,
    recounted in the background by the next request that reads them (one INCR, no COUNT)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 1, None)


def refresh(user: User, filters: DashboardFilters) -> TabCount:
    """Recount one tab and cache it (the Celery task and the first request call this)."""
    generation = cache.get(GENERATION_KEY, 0)
    result = count(user, filters)
    cache.set(_key(user, filters), (result.value, result.capped, time.time(), generation), KEEP_SECONDS)
    return result


def tab_counts(user: User, tabs: dict[str, DashboardFilters]) -> dict[str, TabCount]:
    """The count of each tab (name → filters): cached, recounted in the background when stale."""
    keys = {name: _key(user, filters) for name, filters in tabs.items()}
    cached = cache.get_many([*set(keys.values()), GENERATION_KEY])
    generation = cached.get(GENERATION_KEY, 0)
    now = time.time()
    counts: dict[str, TabCount] = {}
    for name, filters in tabs.items():
        entry = cached.get(keys[name])
        if entry is None:
            counts[name] = refresh(user, filters)
            continue
        value, capped, at, seen = entry
        counts[name] = TabCount(value, capped)
        stale = now - at > fresh_seconds() or (seen != generation and now - at >= RECOUNT_MIN_SECONDS)
        if stale and cache.add(f"{keys[name]}:lock", 1, RECOUNT_MIN_SECONDS):
            from tickets.tasks import refresh_tab_count

            refresh_tab_count.delay(user.pk, _payload(filters))
    return counts


def _payload(filters: DashboardFilters) -> dict:
    return asdict(filters)


def from_payload(data: dict) -> DashboardFilters:
    data = dict(data)
    data["fields"] = tuple(tuple(pair) for pair in data.get("fields", ()))
    return DashboardFilters(**data)
