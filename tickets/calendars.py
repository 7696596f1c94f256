"""Support calendars as working-time schedules: which calendar a ticket's SLA follows.

National and regional holidays come from the `holidays` library (kept up to date upstream,
including the moving feasts and the "following Monday" rules of Spain's regions) rather than a
list typed by hand; a calendar adds its own dates (local holidays, closures).
"""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tickets.working_time import Schedule

if TYPE_CHECKING:
    from tickets.models import SlaPolicy, SupportCalendar, Ticket


@lru_cache(maxsize=64)
def _library_holidays(country: str, subdivision: str) -> holidays.HolidayBase:
    """The library's holiday table (it fills in years lazily as dates are asked)."""
    return holidays.country_holidays(country, subdiv=subdivision or None, language="es")


def library_holidays(country: str, subdivision: str, year: int) -> list[tuple[date, str]]:
    """(date, name) of one year's library holidays, in order (empty without a country)."""
    if not country:
        return []
    table = holidays.country_holidays(country, subdiv=subdivision or None, years=year, language="es")
    return sorted(table.items())


def validate_calendar_fields(calendar: SupportCalendar) -> None:
    """Model.clean() of SupportCalendar: a real time zone, a country/region the library knows."""
    errors = {}
    try:
        ZoneInfo(calendar.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = _("Zona horaria desconocida (p. ej. Europe/Madrid, Atlantic/Canary).")
    if calendar.holiday_country:
        try:
            _library_holidays(calendar.holiday_country.upper(), calendar.holiday_subdivision)
        except NotImplementedError:
            errors["holiday_country"] = _("País o región de festivos desconocidos.")
    elif calendar.holiday_subdivision:
        errors["holiday_subdivision"] = _("Indica también el país.")
    if errors:
        raise ValidationError(errors)


def schedule_of(calendar: SupportCalendar) -> Schedule | None:
    """The calendar's Schedule (two queries); None (24×7) if it has no opening hours."""
    hours: dict[int, list[tuple[time, time]]] = {}
    for row in calendar.hours.all():
        hours.setdefault(row.weekday, []).append((row.opens, row.closes))
    if not hours:
        return None
    own = set(calendar.holidays.values_list("date", flat=True))
    country, subdivision = calendar.holiday_country.upper(), calendar.holiday_subdivision
    table = _library_holidays(country, subdivision) if country else None

    def closed(day: date) -> bool:
        return day in own or (table is not None and day in table)

    return Schedule(zone=ZoneInfo(calendar.time_zone), hours={k: tuple(v) for k, v in hours.items()}, closed=closed)


def calendar_for(ticket: Ticket, policy: SlaPolicy | None = None) -> SupportCalendar | None:
    """The ticket's category's calendar, else its priority's, else the default one."""
    from tickets.models import SupportCalendar

    if ticket.category_id and ticket.category.calendar_id:
        return ticket.category.calendar
    if policy is not None and policy.calendar_id:
        return policy.calendar
    return SupportCalendar.objects.filter(is_default=True).first()


def schedule_for(ticket: Ticket, policy: SlaPolicy | None = None) -> Schedule | None:
    calendar = calendar_for(ticket, policy)
    return schedule_of(calendar) if calendar is not None else None
