"""Working-time arithmetic (tickets/working_time.py), property-based across weekends, holidays and DST.

The schedules are those of a Spanish support team: mainland (Madrid) and Canary Islands zones,
split days with a lunch break, a Saturday morning, the library's national and regional holidays.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.working_time import Schedule, add_working_time, is_working, working_time_between

MADRID = ZoneInfo("Europe/Madrid")
CANARY = ZoneInfo("Atlantic/Canary")
SPAIN_MD = holidays.country_holidays("ES", subdiv="MD")

WEEKDAYS_9_TO_18 = {day: ((time(9), time(18)),) for day in range(5)}
SPLIT_DAY = {
    **{day: ((time(9), time(14)), (time(16), time(19))) for day in range(5)},
    5: ((time(10), time(13)),),
}
ALL_DAY = {day: ((time(0), time(0)),) for day in range(7)}  # 00:00–24:00 every day, in local time

SCHEDULES = st.sampled_from(
    [
        Schedule(zone=MADRID, hours=WEEKDAYS_9_TO_18, closed=lambda day: day in SPAIN_MD),
        Schedule(zone=CANARY, hours=SPLIT_DAY, closed=lambda day: day in SPAIN_MD),
        Schedule(zone=MADRID, hours=ALL_DAY),
        Schedule(zone=MADRID, hours={day: ((time(1, 30), time(3, 30)),) for day in range(7)}),  # across the DST hour
    ]
)
# Instants over several years, dense around the DST changes of late March and late October.
MOMENTS = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda year, month, day, minutes: datetime(year, month, day, tzinfo=UTC) + timedelta(minutes=minutes),
        st.integers(2025, 2028),
        st.sampled_from([3, 10]),
        st.integers(24, 31),
        st.integers(0, 24 * 60),
    ),
)
DURATIONS = st.integers(min_value=0, max_value=20 * 24 * 3600).map(lambda seconds: timedelta(seconds=seconds))


@settings(max_examples=300, deadline=None)
@given(SCHEDULES, MOMENTS, DURATIONS)
def test_adding_working_time_then_measuring_it_gives_it_back(schedule, start, duration):
    due = add_working_time(schedule, start, duration)
    assert due >= start
    assert working_time_between(schedule, start, due) == duration


@settings(max_examples=200, deadline=None)
@given(SCHEDULES, MOMENTS, DURATIONS, DURATIONS)
def test_working_time_is_additive_and_monotonic(schedule, start, first, second):
    middle = add_working_time(schedule, start, first)
    end = add_working_time(schedule, middle, second)
    assert end == add_working_time(schedule, start, first + second) or (
        # the same working instant, reached at the close of one opening or the start of the next
        working_time_between(schedule, start, end) == first + second
    )
    assert working_time_between(schedule, start, end) == working_time_between(
        schedule, start, middle
    ) + working_time_between(schedule, middle, end)


@settings(max_examples=200, deadline=None)
@given(SCHEDULES, MOMENTS, DURATIONS.filter(lambda d: d > timedelta(0)))
def test_a_due_date_falls_inside_opening_hours_never_on_a_holiday(schedule, start, duration):
    due = add_working_time(schedule, start, duration)
    just_before = due - timedelta(seconds=1)
    assert is_working(schedule, just_before)
    assert not schedule.closed(just_before.astimezone(schedule.zone).date())


@settings(max_examples=100, deadline=None)
@given(MOMENTS, DURATIONS)
def test_without_a_calendar_the_clock_runs_24x7(start, duration):
    assert add_working_time(None, start, duration) == start + duration
    assert working_time_between(None, start, start + duration) == duration


def _madrid(*args) -> datetime:
    return datetime(*args, tzinfo=MADRID)


def test_a_ticket_opened_on_saturday_night_is_due_on_monday():
    schedule = Schedule(zone=MADRID, hours=WEEKDAYS_9_TO_18)
    due = add_working_time(schedule, _madrid(2026, 12, 12, 23, 0), timedelta(hours=8))  # Saturday 23:00
    assert due == _madrid(2026, 12, 14, 17, 0)  # Monday 17:00


def test_national_and_regional_holidays_do_not_count():
    schedule = Schedule(zone=MADRID, hours=WEEKDAYS_9_TO_18, closed=lambda day: day in SPAIN_MD)
    # Friday 1 May 2026 (Labour Day) and Saturday 2 May (Madrid's day, on a Saturday anyway)
    due = add_working_time(schedule, _madrid(2026, 4, 30, 17, 0), timedelta(hours=2))
    assert due == _madrid(2026, 5, 4, 10, 0)  # Thursday 17–18, then Monday 9–10
    assert not is_working(schedule, _madrid(2026, 5, 1, 12, 0))


def test_nine_working_hours_on_the_days_the_clocks_change():
    schedule = Schedule(zone=MADRID, hours={day: ((time(9), time(18)),) for day in range(7)})
    for day in (date(2026, 3, 29), date(2026, 10, 25)):  # spring forward, fall back (Sundays)
        start = datetime.combine(day, time(0), tzinfo=MADRID)
        assert working_time_between(schedule, start, start + timedelta(days=1)) == timedelta(hours=9)


def test_a_whole_local_day_is_23_or_25_hours_when_the_clocks_change():
    schedule = Schedule(zone=MADRID, hours=ALL_DAY)
    spring = datetime(2026, 3, 29, tzinfo=MADRID)
    autumn = datetime(2026, 10, 25, tzinfo=MADRID)
    assert working_time_between(schedule, spring, datetime(2026, 3, 30, tzinfo=MADRID)) == timedelta(hours=23)
    assert working_time_between(schedule, autumn, datetime(2026, 10, 26, tzinfo=MADRID)) == timedelta(hours=25)


def test_the_canaries_work_an_hour_behind_the_mainland():
    canary = Schedule(zone=CANARY, hours=WEEKDAYS_9_TO_18)
    mainland = Schedule(zone=MADRID, hours=WEEKDAYS_9_TO_18)
    start = _madrid(2026, 12, 14, 9, 30)  # Monday 09:30 in Madrid, 08:30 in Las Palmas
    assert add_working_time(mainland, start, timedelta(hours=1)) == _madrid(2026, 12, 14, 10, 30)
    assert add_working_time(canary, start, timedelta(hours=1)) == _madrid(2026, 12, 14, 11, 0)


def test_a_schedule_needs_opening_hours():
    import pytest

    with pytest.raises(ValueError, match="at least one opening"):
        Schedule(zone=MADRID, hours={})
