"""SLA arithmetic: due dates from the policy, the pause while pending on the franchisee.

Targets count working time of the ticket's support calendar (tickets/calendars.py): a ticket
opened on Saturday night with an 8-hour target is due on Monday afternoon, not on Sunday. With
no calendar configured the clock runs 24×7.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tickets.calendars import schedule_for
from tickets.models import DEFAULT_SLA_MINUTES, SlaPolicy, SlaState, Ticket
from tickets.working_time import add_working_time, working_time_between


def policy_for(priority: str) -> SlaPolicy:
    """The policy row of a priority, or an unsaved one with the built-in defaults."""
    policy = SlaPolicy.objects.filter(priority=priority).select_related("calendar").first()
    if policy is None:
        first, resolution = DEFAULT_SLA_MINUTES[priority]
        policy = SlaPolicy(priority=priority, first_response_minutes=first, resolution_minutes=resolution)
    return policy


def apply_policy(ticket: Ticket, start: datetime) -> None:
    """Set the due and at-risk dates from `start` (creation), counting working time already paused."""
    policy = policy_for(ticket.priority)
    schedule = schedule_for(ticket, policy)
    offset = timedelta(seconds=ticket.sla_paused_seconds)
    ratio = policy.at_risk_percent / 100
    ticket.first_response_due = add_working_time(schedule, start, policy.first_response + offset)
    ticket.resolution_due = add_working_time(schedule, start, policy.resolution + offset)
    ticket.first_response_risk_at = add_working_time(schedule, start, policy.first_response * ratio + offset)
    ticket.resolution_risk_at = add_working_time(schedule, start, policy.resolution * ratio + offset)
    ticket.sla_state = SlaState.OK


def elapsed(ticket: Ticket, end: datetime) -> int:
    """Working seconds from the ticket's creation to `end`, the time paused left out."""
    schedule = schedule_for(ticket, policy_for(ticket.priority))
    worked = working_time_between(schedule, ticket.created_at, end).total_seconds()
    return max(int(worked) - ticket.sla_paused_seconds, 0)


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, now: datetime) -> None:
    """End a pause: every due date moves later by the working time spent paused."""
    if ticket.sla_paused_at is None:
        return
    schedule = schedule_for(ticket, policy_for(ticket.priority))
    delta = working_time_between(schedule, ticket.sla_paused_at, now)
    ticket.sla_paused_seconds += int(delta.total_seconds())
    if delta > timedelta(0):
        for field in ("first_response_due", "resolution_due", "first_response_risk_at", "resolution_risk_at"):
            value = getattr(ticket, field)
            if value is not None:
                setattr(ticket, field, add_working_time(schedule, value, delta))
    ticket.sla_paused_at = None


def state_at(ticket: Ticket, now: datetime) -> str:
    """What the SLA state of an active ticket is at `now` (paused tickets keep their state)."""
    if ticket.sla_paused_at is not None:
        return ticket.sla_state
    waiting_first = ticket.first_response_at is None
    if (waiting_first and ticket.first_response_due and now > ticket.first_response_due) or (
        ticket.resolution_due and now > ticket.resolution_due
    ):
        return SlaState.BREACHED
    if (waiting_first and ticket.first_response_risk_at and now > ticket.first_response_risk_at) or (
        ticket.resolution_risk_at and now > ticket.resolution_risk_at
    ):
        return SlaState.AT_RISK
    return SlaState.OK
