"""Times as each reader sees them: their time zone, their language's format (one helper).

A user's time zone is `User.time_zone`, else their franchise's (`Franchise.time_zone`), else the
portal's (settings.TIME_ZONE). `UserTimeZoneMiddleware` activates it for each request, so every
`{{ value|date:... }}` of a page is already in the reader's zone; code that formats outside a
request (e-mails, CSV, transcripts) passes `zone=time_zone_of(reader)`. The browser side is the
one function `Portal.formatTime()` of static/js/portal.js, which reads the same zone from
`<html data-time-zone>` and gives the same text for the same instant.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import dateformat, formats, timezone

if TYPE_CHECKING:
    from accounts.models import User

#: format names of Django's format modules (support_portal/formats/<lang>/formats.py)
STYLES = {"datetime": "SHORT_DATETIME_FORMAT", "date": "SHORT_DATE_FORMAT", "time": "TIME_FORMAT"}


def valid_zone(name: str) -> bool:
    if not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_name_of(user: User | None) -> str:
    """The IANA name of the zone `user` reads times in."""
    for name in (getattr(user, "time_zone", ""), getattr(getattr(user, "franchise", None), "time_zone", "")):
        if name and valid_zone(name):
            return name
    return settings.TIME_ZONE


def time_zone_of(user: User | None) -> tzinfo:
    return zoneinfo.ZoneInfo(zone_name_of(user))


def format_datetime(value: datetime | date | None, style: str = "datetime", *, zone: tzinfo | None = None) -> str:
    """`value` in `zone` (default: the active zone) with the active language's format.

    `style` is "datetime" (02/12/2026 14:05), "date" (02/12/2026) or "time" (14:05). Spanish and
    English (en-GB order) both write day/month/year and a 24-hour clock.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, zone)
    elif style != "date":
        style = "date"
    return dateformat.format(value, formats.get_format(STYLES.get(style, style)))


def iso_instant(value: datetime | None) -> str:
    """A valid `<time datetime>` value: ISO 8601 in UTC, whole seconds (no microseconds)."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = value.astimezone(zoneinfo.ZoneInfo("UTC"))
        return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return value.replace(microsecond=0).isoformat()
