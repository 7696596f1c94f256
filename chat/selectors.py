"""Every read of chat data, scoped to the asking user through accounts.access."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import get_visible_or_404, is_agent, is_franchisee, is_supervisor, scope_to_user
from accounts.models import User
from chat import presence
from chat.models import AgentAvailability, Attachment, Conversation, Message, ReadMarker
from support_portal.times import format_datetime, time_zone_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

HISTORY_CHUNK = 500


def _with_people(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return queryset.select_related("franchise", "franchisee", "agent")


def visible_conversations(user: User | AnonymousUser) -> QuerySet[Conversation]:
    """Conversations the user may open: their franchise's (franchisee) or all (agents)."""
    return _with_people(scope_to_user(Conversation.objects.all(), user))


def get_conversation(user: User | AnonymousUser, pk: int) -> Conversation:
    """One visible conversation or Http404 (also for other franchises)."""
    return get_visible_or_404(_with_people(Conversation.objects.all()), user, pk=pk)


def find_conversation(user: User | AnonymousUser, pk: int) -> Conversation | None:
    """Like get_conversation, None instead of 404 (for sockets)."""
    return _with_people(scope_to_user(Conversation.objects.filter(pk=pk), user)).first()


def my_conversations(user: User) -> QuerySet[Conversation]:
    """The franchisee's own conversations, or the agent's assigned ones, most recent first."""
    if is_agent(user):
        return visible_conversations(user).filter(agent=user)
    return visible_conversations(user).filter(franchisee=user)


def waiting_queue(user: User) -> QuerySet[Conversation]:
    """Waiting conversations, oldest first (agents only)."""
    if not is_agent(user):
        return Conversation.objects.none()
    return _with_people(Conversation.objects.filter(status=Conversation.Status.WAITING)).order_by("created_at", "id")


def waiting_count() -> int:
    return Conversation.objects.filter(status=Conversation.Status.WAITING).count()


def active_for_agent(user: User) -> QuerySet[Conversation]:
    if not is_agent(user):
        return Conversation.objects.none()
    return visible_conversations(user).filter(agent=user, status=Conversation.Status.ACTIVE)


def history(conversation_id: int, after: int = 0) -> QuerySet[Message]:
    """Messages with id > after, in order (ids grow with time)."""
    return (
        Message.objects.filter(conversation_id=conversation_id, id__gt=after)
        .select_related("author", "attachment")
        .order_by("id")
    )


def find_by_client_id(conversation_id: int, author_id: int, client_id: str) -> Message | None:
    return (
        Message.objects.filter(conversation_id=conversation_id, author_id=author_id, client_id=client_id)
        .select_related("author", "attachment")
        .order_by()
        .first()
    )


def posting_state(user: User, conversation_id: int) -> Conversation | None:
    """The few columns can_post() needs, for a conversation the user may see (hot path: every message)."""
    return (
        scope_to_user(Conversation.objects.filter(pk=conversation_id), user)
        .only("status", "franchise_id", "franchisee_id", "agent_id", "last_activity_at")
        .order_by()
        .first()
    )


def participant_ids(conversation: Conversation) -> set[int]:
    """Whose reads count (✓✓): the conversation's franchisee and its assigned agent."""
    return {conversation.franchisee_id, conversation.agent_id} - {None}


def read_markers(conversation: Conversation) -> dict[int, int]:
    """{user id: last read message id} of the participants who read something."""
    markers = ReadMarker.objects.filter(conversation=conversation, user_id__in=participant_ids(conversation))
    return dict(markers.values_list("user_id", "last_read_message_id"))


def transcript(conversation: Conversation, reader: User | None = None) -> str:
    """Plain-text transcript (for the ticket created from a chat), in the active language.

    Times in `reader`'s time zone (default: the active one), as `DD/MM/YYYY HH:MM`.
    """
    zone = time_zone_of(reader) if reader is not None else timezone.get_current_timezone()
    lines = [_("Horas en %(zone)s.") % {"zone": getattr(zone, "key", str(zone))}, ""]
    for message in history(conversation.pk):
        who = message.author.display_name if message.author else _("Sistema")
        stamp = format_datetime(message.created_at, zone=zone)
        # one line per message; a body's own line breaks are kept (the page renders them, nl2br)
        lines.append(f"[{stamp}] {who}: {message.shown_body}")
    return "\n".join(lines)


def staff_ids() -> list[int]:
    return list(
        User.objects.filter(role__in=[User.Role.AGENT, User.Role.SUPERVISOR], is_active=True).values_list(
            "pk", flat=True
        )
    )


def agents_online() -> bool:
    """True when at least one agent or supervisor has a socket open (see chat.presence)."""
    return bool(presence.online_agent_ids(staff_ids()))


def transfer_candidates(user: User, conversation: Conversation) -> QuerySet[User]:
    if not is_agent(user):
        return User.objects.none()
    return (
        User.objects.filter(role__in=[User.Role.AGENT, User.Role.SUPERVISOR], is_active=True)
        .exclude(pk=conversation.agent_id)
        .order_by("first_name", "username")
    )


def can_manage(user: User, conversation: Conversation) -> bool:
    """Who may transfer, resolve or close a conversation as staff: its assigned agent or a supervisor."""
    return is_agent(user) and (user.pk == conversation.agent_id or user.role == User.Role.SUPERVISOR)


def can_close(user: User, conversation: Conversation) -> bool:
    """Who may close it: its franchisee, its assigned agent or a supervisor (the transfer rule)."""
    return (is_franchisee(user) and user.pk == conversation.franchisee_id) or can_manage(user, conversation)


def can_post(user: User, conversation: Conversation) -> bool:
    """Who may write: the conversation's franchisee while open; its agent (or a supervisor) once active."""
    if conversation.status == Conversation.Status.CLOSED:
        return False
    if is_franchisee(user):
        return user.pk == conversation.franchisee_id
    if is_agent(user):
        return conversation.status == Conversation.Status.ACTIVE and (
            user.pk == conversation.agent_id or user.role == User.Role.SUPERVISOR
        )
    return False


def attachment_for(user: User, conversation_id: int, attachment_id: int) -> Attachment:
    """A file of a conversation, for its franchisee and agents only (Http404 for anyone else,
    also a colleague of the same franchise: chat files are the conversation's participants')."""
    conversation = get_conversation(user, conversation_id)
    if not (is_agent(user) or user.pk == conversation.franchisee_id):
        raise Http404
    return get_object_or_404(Attachment, pk=attachment_id, conversation=conversation, message__isnull=False)


# --- availability, the supervisors' board, the franchisee's wait -----------------------------

STAFF_ROLES = (User.Role.AGENT, User.Role.SUPERVISOR)
HANDLE_SAMPLE = 50  # recent closed chats whose handle time feeds the wait estimate
HANDLE_WINDOW = timedelta(days=7)
HANDLE_DEFAULT_MINUTES = 5.0  # before any chat has been handled


def waiting_ids(limit: int) -> list[int]:
    """Ids of the oldest waiting conversations (the routing order)."""
    queue = Conversation.objects.filter(status=Conversation.Status.WAITING).order_by("created_at", "id")
    return list(queue.values_list("pk", flat=True)[:limit])


def supervisor_ids() -> list[int]:
    return list(User.objects.filter(role=User.Role.SUPERVISOR, is_active=True).values_list("pk", flat=True))


def availability_of(user: User) -> AgentAvailability:
    """The agent's row, or an unsaved default one (away, default capacity)."""
    row = AgentAvailability.objects.filter(agent=user).first()
    return row or AgentAvailability(agent=user)


def active_chat_count(agent_ref: str = "pk") -> Coalesce:
    """Annotation: the active chats of the agent whose id is the outer query's `agent_ref`
    (`"pk"` on users, `"agent_id"` on availability rows); one correlated subquery."""
    active = (
        Conversation.objects.filter(agent=OuterRef(agent_ref), status=Conversation.Status.ACTIVE)
        .order_by()
        .values("agent")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(active, output_field=IntegerField()), 0)


def board_rows(agent_ids: list[int] | None = None) -> list[dict]:
    """Every active agent's (or those of `agent_ids`) chosen status, presence and load:
    one query and one cache read, whatever the number of agents."""
    staff = User.objects.filter(role__in=STAFF_ROLES, is_active=True)
    if agent_ids is not None:
        staff = staff.filter(pk__in=agent_ids)
    users = list(
        staff.select_related("chat_availability")
        .annotate(active=active_chat_count())
        .order_by("first_name", "username")
    )
    online = presence.online_agent_ids([u.pk for u in users])
    rows = []
    for user in users:
        row = getattr(user, "chat_availability", None) or AgentAvailability(agent=user)
        is_online = user.pk in online
        rows.append(
            {
                "agent": user,
                "status": row.status,
                "online": is_online,
                "state": row.status if is_online else "offline",
                "active": user.active,
                "capacity": row.capacity,
            }
        )
    return rows


def agent_board(user: User) -> list[dict]:
    """The supervisors' board (nobody else sees it)."""
    return board_rows() if is_supervisor(user) else []


def recent_handle_minutes(now=None) -> float:
    """Mean minutes from accept to close of the last HANDLE_SAMPLE chats of the last 7 days."""
    since = (now or timezone.now()) - HANDLE_WINDOW
    spans = (
        Conversation.objects.filter(status=Conversation.Status.CLOSED, accepted_at__isnull=False, closed_at__gte=since)
        .order_by("-closed_at")
        .values_list("accepted_at", "closed_at")[:HANDLE_SAMPLE]
    )
    minutes = [(closed - accepted).total_seconds() / 60 for accepted, closed in spans if closed >= accepted]
    return sum(minutes) / len(minutes) if minutes else HANDLE_DEFAULT_MINUTES


def _wait_inputs() -> tuple[int, float] | None:
    """(chat slots of the agents online, recent handle minutes), or None with nobody online."""
    staff = list(User.objects.filter(role__in=STAFF_ROLES, is_active=True).select_related("chat_availability"))
    online = presence.online_agent_ids([u.pk for u in staff])
    if not online:
        return None
    slots = 0
    for user in staff:
        if user.pk not in online:
            continue
        row = getattr(user, "chat_availability", None)
        available = row is not None and row.status == AgentAvailability.Status.AVAILABLE
        slots += row.capacity if available else 1
    return max(slots, 1), recent_handle_minutes()


def _minutes(place: int, slots: int, handle: float) -> int:
    return max(1, math.ceil(max(place, 1) * handle / slots))


def wait_estimates(limit: int = 50) -> dict[int, int | None]:
    """{conversation id: estimate} of the oldest `limit` waiting chats (for the live `wait` frames)."""
    ids = waiting_ids(limit)
    inputs = _wait_inputs() if ids else None
    if inputs is None:
        return dict.fromkeys(ids)
    return {pk: _minutes(place, *inputs) for place, pk in enumerate(ids, start=1)}


def wait_estimate(conversation: Conversation) -> int | None:
    """About how many minutes until an agent answers this waiting chat, or None (not waiting,
    or no agent online). Its place in the queue × recent handle time ÷ the chat slots of the
    agents online (the capacity of the available ones; one per agent online but away)."""
    if conversation.status != Conversation.Status.WAITING:
        return None
    inputs = _wait_inputs()
    if inputs is None:
        return None
    ahead = Conversation.objects.filter(
        Q(created_at__lt=conversation.created_at) | Q(created_at=conversation.created_at, pk__lte=conversation.pk),
        status=Conversation.Status.WAITING,
    ).count()
    return _minutes(ahead, *inputs)


def unanswered_minutes() -> int:
    return int(getattr(settings, "CHAT_UNANSWERED_MINUTES", 10))


def unanswered_ids(now=None, limit: int = 200) -> list[int]:
    """Waiting conversations older than CHAT_UNANSWERED_MINUTES, oldest first."""
    cutoff = (now or timezone.now()) - timedelta(minutes=unanswered_minutes())
    queue = Conversation.objects.filter(status=Conversation.Status.WAITING, created_at__lt=cutoff)
    return list(queue.order_by("created_at", "id").values_list("pk", flat=True)[:limit])
