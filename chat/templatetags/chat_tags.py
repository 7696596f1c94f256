"""Panels this app contributes to the agent dashboard (/agent/)."""

from django import template

register = template.Library()


@register.inclusion_tag("chat/_queue_panel.html", takes_context=True)
def chat_queue_panel(context) -> dict:
    return {"user": context["request"].user}
