"""`{{ url|safe_link }}`: a stored link rendered only if it is a path of this site."""

from django import template

from support_portal.links import safe_link as _safe_link

register = template.Library()


@register.filter
def safe_link(url: str | None) -> str:
    return _safe_link(url)


@register.inclusion_tag("notifications/_preferences_panel.html", takes_context=True)
def notification_preferences_panel(context) -> dict:
    """The user's notification preferences as a form (posts to /notifications/preferences/ and
    comes back to the page it is on): the profile page shows it."""
    from notifications.forms import PreferencesForm
    from notifications.selectors import preferences_for

    request = context["request"]
    form = PreferencesForm(rows=preferences_for(request.user))
    return {"csrf_token": context.get("csrf_token"), "rows": form.rows(), "next": f"{request.path}#notifications"}
