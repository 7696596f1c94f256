"""Working-time arithmetic: SLA clocks that count only a support calendar's opening hours.

A `Schedule` is plain data (time zone, opening intervals per weekday, closed dates), so the
arithmetic is pure and property-tested (tests/test_tickets_working_time.py). Intervals are local
wall-clock times built day by day in the calendar's zone, so a DST change moves them with the
clock: 09:00–18:00 is nine working hours on the day the clocks change too. `None` as a schedule
means 24×7 (plain datetime arithmetic), the behaviour without any calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Give up after this many days without an opening (a calendar with no hours is 24×7 instead).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Schedule:
    """Opening hours of a support calendar.

    `hours[weekday]` (Monday = 0) is a tuple of (opens, closes) local times, `closes` after
    `opens` or `time(0)` for midnight at the end of the day; `closed(day)` says whether a date is
    a holiday.
    """

    zone: ZoneInfo
    hours: dict[int, tuple[tuple[time, time], ...]]
    closed: Callable[[date], bool] = field(default=lambda day: False)

    def __post_init__(self) -> None:
        if not any(self.hours.values()):
            raise ValueError("a schedule needs at least one opening interval")

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's openings as aware UTC datetimes (empty on a holiday)."""
        if self.closed(day):
            return []
        spans = []
        for opens, closes in self.hours.get(day.weekday(), ()):
            start = datetime.combine(day, opens, tzinfo=self.zone)
            end = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
                if closes == time(0)
                else datetime.combine(day, closes, tzinfo=self.zone)
            )
            # In UTC from here on: Python compares and subtracts two datetimes that share a tzinfo
            # by their wall clocks, which is wrong across a DST change.
            start, end = start.astimezone(UTC), end.astimezone(UTC)
            if end > start:
                spans.append((start, end))
        return sorted(spans)

    def openings_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Openings that end after `moment`, clipped to start no earlier than it, in order."""
        day = moment.astimezone(self.zone).date() - timedelta(days=1)  # an interval may span midnight
        for offset in range(MAX_DAYS):
            for start, end in self.intervals(day + timedelta(days=offset)):
                if end > moment:
                    yield max(start, moment), end
        raise ValueError("no opening hours found in the next three years")


def add_working_time(schedule: Schedule | None, start: datetime, duration: timedelta) -> datetime:
    """The moment when `duration` of working time has passed after `start`."""
    if schedule is None:
        return start + duration
    if duration <= timedelta(0):
        return start
    left = duration
    for opens, closes in schedule.openings_from(start):
        span = closes - opens
        if span >= left:
            return opens + left
        left -= span
    raise AssertionError("unreachable: openings_from never ends without raising")


def working_time_between(schedule: Schedule | None, start: datetime, end: datetime) -> timedelta:
    """Working time in [start, end) (zero when end is not after start)."""
    if end <= start:
        return timedelta(0)
    if schedule is None:
        return end - start
    total = timedelta(0)
    for opens, closes in schedule.openings_from(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def is_working(schedule: Schedule | None, moment: datetime) -> bool:
    """Whether `moment` falls inside an opening."""
    if schedule is None:
        return True
    opens, _closes = next(schedule.openings_from(moment))
    return opens == moment
