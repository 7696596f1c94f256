"""Agent availability and chat routing (DESIGN.md "Agent availability and chat routing").

A waiting chat goes to the available, online agent with the fewest active chats below their
capacity (a ticket category's agents first when the topic names the category). Atomic on
PostgreSQL across processes:

- the conversation row is locked with `SELECT … FOR UPDATE SKIP LOCKED` (a new chat another
  process is routing is skipped, never given twice; draining the queue waits for the lock
  instead, to keep the oldest first) and activated by the same conditional UPDATE as a manual
  accept (of a router and an accepting agent exactly one wins);
- the chosen agent's `AgentAvailability` row is locked (`FOR UPDATE`) before their active chats
  are counted, so two processes routing to one agent count one after the other and never give
  more than the capacity.

Lock order is always conversation → agent; nothing holds an agent row while it waits for a
conversation (`set_availability` commits before it routes; accept and transfer lock only the
conversation), so routers never deadlock.
SQLite (embedded mode, one process) ignores row locks; its single writer serialises the UPDATE.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from enum import Enum

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import is_agent
from accounts.models import User
from chat import presence, selectors, services
from chat.frames import agent_status_frame, conversation_group, wait_frame
from chat.models import AgentAvailability, Conversation, default_capacity
from notifications.services import push_to_groups, user_group

logger = logging.getLogger(__name__)

ROUTE_BATCH = 50  # waiting chats looked at per route_waiting() call (oldest first)
STAFF_ROLES = (User.Role.AGENT, User.Role.SUPERVISOR)


class Outcome(Enum):
    ROUTED = "routed"
    SKIPPED = "skipped"  # not waiting any more, or another process is routing it right now
    NO_AGENT = "no_agent"  # nobody available, online and below capacity


# --- availability -------------------------------------------------------------------------


def set_availability(*, agent: User, status: str) -> AgentAvailability:
    """The agent says they are available or away. Becoming available routes waiting chats to them."""
    if not is_agent(agent):
        raise services.Forbidden(_("Solo un agente tiene disponibilidad."))
    if status not in AgentAvailability.Status.values:
        raise services.Invalid(_("Estado no válido: disponible o ausente."))
    with transaction.atomic():
        row, _created = AgentAvailability.objects.select_for_update().get_or_create(agent=agent)
        changed = row.status != status
        if changed:
            row.status = status
            row.changed_at = timezone.now()
            row.save(update_fields=["status", "changed_at"])
    if changed:  # committed (and the agent row unlocked) before routing takes its own locks
        push_board([agent.pk])
        if status == AgentAvailability.Status.AVAILABLE:
            route_waiting()
        push_waits()  # more or fewer slots: every waiting chat's estimate
    return row


def set_capacity(*, actor: User, agent: User, capacity: int | None) -> AgentAvailability:
    """A supervisor sets how many active chats routing gives an agent (None: the default)."""
    from accounts.access import is_supervisor

    if not is_supervisor(actor) or not is_agent(agent):
        raise services.Forbidden(_("Solo un supervisor cambia la capacidad de un agente."))
    if capacity is not None and not 1 <= capacity <= 50:
        raise services.Invalid(_("La capacidad va de 1 a 50 chats."))
    with transaction.atomic():
        row, _created = AgentAvailability.objects.select_for_update().get_or_create(agent=agent)
        row.chat_capacity = capacity
        row.save(update_fields=["chat_capacity"])
    push_board([agent.pk])
    route_waiting()  # more room: waiting chats may go to them now
    return row


# --- routing ------------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _stem(word: str) -> str:
    """Enough of a word to match its plural too (impresora / impresoras)."""
    return word if len(word) <= 4 else word[:-2]


def topic_matches(topic: str, category_name: str) -> bool:
    """True when every word of the category's name (3+ letters, accents and plural endings
    ignored) starts a word of the topic: «Impresoras» matches «la impresora no imprime»."""
    topic_words = re.findall(r"\w+", _fold(topic))
    name_words = [w for w in re.findall(r"\w+", _fold(category_name)) if len(w) >= 3]
    return bool(name_words) and all(any(t.startswith(_stem(w)) for t in topic_words) for w in name_words)


def skilled_agent_ids(topic: str) -> set[int]:
    """Agents of the active ticket categories the topic names (preferred for that chat)."""
    from tickets.models import Category

    categories = Category.objects.filter(active=True).values_list("pk", "name", "name_en")
    matched = [pk for pk, name, name_en in categories if topic_matches(topic, name) or topic_matches(topic, name_en)]
    if not matched:
        return set()
    return set(User.objects.filter(ticket_categories__in=matched).values_list("pk", flat=True))


def ranked_candidates(topic: str) -> list[int]:
    """Agent ids that may take a chat now, best first: skilled for the topic, then fewest
    active chats, then lowest id. Only available, active staff with a socket open, below capacity."""
    available = AgentAvailability.objects.filter(
        status=AgentAvailability.Status.AVAILABLE, agent__is_active=True, agent__role__in=STAFF_ROLES
    )
    online = presence.online_agent_ids(available.values_list("agent_id", flat=True))
    if not online:
        return []
    skilled = skilled_agent_ids(topic)
    rows = (
        available.filter(agent_id__in=online)
        .annotate(
            load=selectors.active_chat_count("agent_id"), cap=Coalesce("chat_capacity", Value(default_capacity()))
        )
        .filter(load__lt=F("cap"))
        .order_by("load", "agent_id")
    )
    if skilled:  # (never order by a constant: PostgreSQL reads `ORDER BY 1` as the first column)
        rows = rows.annotate(unskilled=Case(When(agent_id__in=skilled, then=Value(0)), default=Value(1))).order_by(
            "unskilled", "load", "agent_id"
        )
    return list(rows.values_list("agent_id", flat=True))


def _claim_slot(agent_id: int) -> User | None:
    """Lock the agent's availability row, then count: the agent if still available with room."""
    row = (
        AgentAvailability.objects.select_for_update(of=("self",))
        .select_related("agent")
        .filter(agent_id=agent_id, status=AgentAvailability.Status.AVAILABLE)
        .first()
    )
    if row is None or not is_agent(row.agent):
        return None
    load = Conversation.objects.filter(agent_id=agent_id, status=Conversation.Status.ACTIVE).count()
    return row.agent if load < row.capacity else None


def route(conversation_id: int, *, wait: bool = False) -> Outcome:
    """Give one waiting chat to the best agent now, atomically (see the module docstring).

    A chat another process is routing is skipped (`SKIP LOCKED`), unless `wait`: the queue is
    drained oldest first, and a drainer waits for the router ahead of it on the same chat, so
    a newer chat never takes the slot an older one was about to get.
    """
    with transaction.atomic():
        waiting = (
            Conversation.objects.select_for_update(skip_locked=not wait)
            .filter(pk=conversation_id, status=Conversation.Status.WAITING)
            .values_list("topic", flat=True)
            .first()
        )
        if waiting is None:
            return Outcome.SKIPPED
        candidates = ranked_candidates(waiting)
        for agent_id in candidates:
            agent = _claim_slot(agent_id)
            if agent is None:
                continue  # taken meanwhile (away, or full): the next one
            conversation = services.activate(conversation_id=conversation_id, agent=agent, routed=True)
            return Outcome.ROUTED if conversation is not None else Outcome.SKIPPED
    return Outcome.NO_AGENT


def route_waiting(limit: int = ROUTE_BATCH) -> int:
    """Route the oldest waiting chats while someone has room (an agent became available, came
    online or freed capacity). Returns how many were routed."""
    routed = 0
    ids = selectors.waiting_ids(limit)
    for conversation_id in ids:
        outcome = route(conversation_id, wait=True)
        if outcome is Outcome.NO_AGENT:
            break
        routed += outcome is Outcome.ROUTED
    return routed


def route_after_commit(conversation_id: int | None = None) -> None:
    """Schedule routing once the caller's transaction commits (one chat, or the whole queue)."""

    def run() -> None:
        if conversation_id is None:
            route_waiting()
        else:
            route(conversation_id)

    transaction.on_commit(run, robust=True)


# --- supervisors' board -------------------------------------------------------------------


def push_board(agent_ids: list[int]) -> None:
    """Send each agent's current state and load to every supervisor's notification sockets."""
    rows = selectors.board_rows(agent_ids)
    supervisors = selectors.supervisor_ids()
    if rows and supervisors:
        push_to_groups([(user_group(s), agent_status_frame(row)) for row in rows for s in supervisors])


def push_waits() -> None:
    """A `wait` frame ({"type": "wait", "minutes": n | null}) to each of the oldest waiting chats:
    their franchisee's page updates "Un agente te responderá en aproximadamente N minutos"."""
    estimates = selectors.wait_estimates()
    if estimates:
        push_to_groups([(conversation_group(pk), wait_frame(m)) for pk, m in estimates.items()])


def push_waits_after_commit() -> None:
    transaction.on_commit(push_waits, robust=True)


def push_board_after_commit(agent_ids: list[int]) -> None:
    ids = sorted({pk for pk in agent_ids if pk})
    if ids:
        transaction.on_commit(lambda: push_board(ids), robust=True)


# --- presence hooks (chat.apps connects them) ---------------------------------------------


def on_agent_online(sender, user_id: int, **kwargs) -> None:
    """First socket of an agent: the board shows them online; if available, they get chats."""
    push_board([user_id])
    if AgentAvailability.objects.filter(agent_id=user_id, status=AgentAvailability.Status.AVAILABLE).exists():
        route_waiting()


def on_agent_offline(sender, user_id: int, **kwargs) -> None:
    push_board([user_id])
