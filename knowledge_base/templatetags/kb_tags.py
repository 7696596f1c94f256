"""Panels this app contributes to the agent dashboard (/agent/)."""

from django import template

register = template.Library()


@register.inclusion_tag("knowledge_base/_review_panel.html", takes_context=True)
def kb_review_panel(context) -> dict:
    return {"user": context["request"].user}
