"""Every read of chat data, scoped to the asking user through accounts.access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.access import get_visible_or_404, is_agent, is_franchisee, scope_to_user
from accounts.models import User
from chat import presence
from chat.models import Attachment, Conversation, Message, ReadMarker
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
    lines = []
    for message in history(conversation.pk):
        who = message.author.display_name if message.author else "—"
        stamp = format_datetime(message.created_at, zone=zone)
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
