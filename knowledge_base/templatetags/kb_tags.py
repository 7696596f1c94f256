"""Panels this app contributes to the agent dashboard (/agent/)."""

from django import template

from accounts.access import is_agent
from knowledge_base import selectors

register = template.Library()
PANEL_ROWS = 5


@register.inclusion_tag("knowledge_base/_review_panel.html", takes_context=True)
def kb_review_panel(context) -> dict:
    """Stale articles, articles with many "not helpful" votes and deflections per article."""
    user = context["request"].user
    if not is_agent(user):
        return {"user": user, "stale": [], "not_helpful": [], "deflections": []}
    return {
        "user": user,
        "stale": list(selectors.stale_articles()[:PANEL_ROWS]),
        "not_helpful": list(selectors.not_helpful_articles()[:PANEL_ROWS]),
        "deflections": selectors.deflection_counts(limit=PANEL_ROWS),
    }
