"""Automatic assignment on creation: least-loaded or round-robin among the category's agents."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from tickets.models import ACTIVE_STATUSES, AssignmentCursor, Ticket

MODES = ("least_loaded", "round_robin", "off")


def category_agents(ticket: Ticket):
    """Active support staff linked to the ticket's category."""
    if ticket.category_id is None:
        return User.objects.none()
    return ticket.category.agents.filter(is_active=True, role__in=(User.Role.AGENT, User.Role.SUPERVISOR))


def least_loaded(ticket: Ticket) -> User | None:
    """The agent of the category with the fewest active tickets (ties: lowest id).

    Each agent's load is a correlated count over the partial index of active tickets by
    assignee (`ticket_active_assignee_due`), so closed tickets — most of them — are never read.
    """
    active = (
        Ticket.objects.filter(assignee=OuterRef("pk"), status__in=ACTIVE_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return category_agents(ticket).annotate(load=Coalesce(Subquery(active), 0)).order_by("load", "pk").first()


def round_robin(ticket: Ticket) -> User | None:
    """The next agent of the category after the one who got the previous ticket (in id order)."""
    agents = list(category_agents(ticket).order_by("pk"))
    if not agents:
        return None
    cursor, _ = AssignmentCursor.objects.select_for_update().get_or_create(key=f"category:{ticket.category_id}")
    following = [agent for agent in agents if cursor.last_agent_id is None or agent.pk > cursor.last_agent_id]
    chosen = following[0] if following else agents[0]
    cursor.last_agent = chosen
    cursor.save(update_fields=["last_agent"])
    return chosen


def pick_assignee(ticket: Ticket) -> User | None:
    """Who gets a new ticket according to settings.TICKETS_AUTO_ASSIGN (None: it waits in the queue)."""
    mode = getattr(settings, "TICKETS_AUTO_ASSIGN", "least_loaded")
    if mode == "least_loaded":
        return least_loaded(ticket)
    if mode == "round_robin":
        return round_robin(ticket)
    return None
