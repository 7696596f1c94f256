"""Template helpers of the ticket pages."""

from datetime import timedelta

from django import template
from django.utils import translation
from django.utils.safestring import SafeString

from tickets.markdown import render_markdown
from tickets.models import Category, Priority, SlaState, Status, TicketLink

#: timeline events that store a choice code, shown with its label in the reader's language
CODED_EVENTS = {
    "created": Status,
    "status": Status,
    "priority": Priority,
    "sla_at_risk": SlaState,
    "sla_breached": SlaState,
}

register = template.Library()


@register.filter(name="ticket_markdown")
def ticket_markdown(text: str) -> SafeString:
    """Markdown written by a user, sanitized."""
    return render_markdown(text)


@register.filter(name="human_duration")
def human_duration(value) -> str:
    """A timedelta as «3 d 4 h», «2 h 5 min» or «12 min»."""
    if not isinstance(value, timedelta):  # None, or "" for a missing row in a template
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


@register.filter(name="minutes_duration")
def minutes_duration(minutes) -> str:
    """Recorded minutes as «1 h 30 min» or «45 min»."""
    if not minutes:
        return "0 min"
    hours, mins = divmod(int(minutes), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@register.filter(name="event_value")
def event_value(value: str, kind: str) -> str:
    """The label of a status / priority / SLA code stored in a timeline event (other values as they are)."""
    if kind in ("linked", "unlinked") and ":" in value:
        code, number = value.split(":", 1)
        reverse = code.startswith("~")
        if code.lstrip("~") in TicketLink.Kind.values:
            return f"{TicketLink.label(code.lstrip('~'), reverse=reverse)} {number}"
        return value
    if kind == "category" and value and (translation.get_language() or "").startswith("en"):
        # The event keeps the (Spanish) name; an English reader gets the category's English name.
        english = Category.objects.filter(name=value).exclude(name_en="").values_list("name_en", flat=True).first()
        return english or value
    choices = CODED_EVENTS.get(kind)
    if choices is None or value not in choices.values:
        return value
    return str(choices(value).label)
