"""Live counts of the /agent/ tabs without a COUNT per tab per request.

Each count is cached (key: the normalised filters, plus the agent for "mine"/"me" filters, so a
shared view's count is computed once for everyone). A request reads all its tabs' counts with one
`cache.get_many`; a count older than `TICKETS_TAB_COUNT_FRESH` seconds is still shown while one
Celery task (guarded by a `cache.add` lock) recounts it; a count never seen is computed at once.
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


def refresh(user: User, filters: DashboardFilters) -> TabCount:
    """Recount one tab and cache it (the Celery task and the first request call this)."""
    result = count(user, filters)
    cache.set(_key(user, filters), (result.value, result.capped, time.time()), KEEP_SECONDS)
    return result


def tab_counts(user: User, tabs: dict[str, DashboardFilters]) -> dict[str, TabCount]:
    """The count of each tab (name → filters): cached, recounted in the background when stale."""
    keys = {name: _key(user, filters) for name, filters in tabs.items()}
    cached = cache.get_many(list(set(keys.values())))
    now = time.time()
    counts: dict[str, TabCount] = {}
    for name, filters in tabs.items():
        entry = cached.get(keys[name])
        if entry is None:
            counts[name] = refresh(user, filters)
            continue
        value, capped, at = entry
        counts[name] = TabCount(value, capped)
        if now - at > fresh_seconds() and cache.add(f"{keys[name]}:lock", 1, fresh_seconds()):
            from tickets.tasks import refresh_tab_count

            refresh_tab_count.delay(user.pk, _payload(filters))
    return counts


def _payload(filters: DashboardFilters) -> dict:
    return asdict(filters)


def from_payload(data: dict) -> DashboardFilters:
    data = dict(data)
    data["fields"] = tuple(tuple(pair) for pair in data.get("fields", ()))
    return DashboardFilters(**data)
