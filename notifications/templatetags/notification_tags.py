"""`{{ url|safe_link }}`: a stored link rendered only if it is a path of this site."""

from django import template

from support_portal.links import safe_link as _safe_link

register = template.Library()


@register.filter
def safe_link(url: str | None) -> str:
    return _safe_link(url)
