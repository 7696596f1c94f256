"""Time filters of every template (a builtin: no {% load %} needed). See support_portal/times.py.

- ``{{ value|iso_instant }}``: a valid ``<time datetime>`` value (UTC, whole seconds).
- ``{{ value|local_time }}`` / ``{{ value|local_time:"date" }}`` / ``:"time"``: the reader's zone and
  the active language's format, the same text as ``Portal.formatTime()`` in the browser.
"""

from django import template

from support_portal.times import format_datetime, iso_instant

register = template.Library()

register.filter("iso_instant", iso_instant)


@register.filter(name="local_time")
def local_time(value, style: str = "datetime") -> str:
    return format_datetime(value, style)
