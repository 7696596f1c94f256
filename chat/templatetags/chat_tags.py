"""Panels this app contributes to the agent dashboard (/agent/)."""

from django import template

from chat import selectors

register = template.Library()

PANEL_SIZE = 20


@register.inclusion_tag("chat/_queue_panel.html", takes_context=True)
def chat_queue_panel(context) -> dict:
    """The waiting queue and the agent's own active chats; chat/queue.js keeps them live."""
    user = context["request"].user
    return {
        "user": user,
        "queue": list(selectors.waiting_queue(user)[:PANEL_SIZE]),
        "waiting_count": selectors.waiting_count(),
        "mine": list(selectors.active_for_agent(user)[:PANEL_SIZE]),
        "availability": selectors.availability_of(user),
        "request": context["request"],
    }


@register.inclusion_tag("chat/_agent_board.html", takes_context=True)
def agent_board_panel(context) -> dict:
    """Supervisors: every agent's chat state and load; chat/board.js keeps it live (`agent_status` frames)."""
    rows = selectors.agent_board(context["request"].user)
    return {"show": bool(rows), "rows": rows}
