"""JSON frames of the /ws/chat/ protocol (DESIGN.md "WebSocket contract") and the agents' queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.models import Conversation, Message

if TYPE_CHECKING:
    from accounts.models import User

GROUP_PREFIX = "chat.conversation."


def conversation_group(conversation_id: int) -> str:
    """Channel-layer group of every socket open on one conversation."""
    return f"{GROUP_PREFIX}{conversation_id}"


def person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "role": user.role}


def message_frame(message: Message) -> dict:
    """`message` frame; system messages (joins, transfers, ticket links) have author None."""
    return {
        "type": "message",
        "id": message.pk,
        "conversation": message.conversation_id,
        "client_id": message.client_id or None,
        "body": message.body,
        "created": message.created_at.isoformat(),
        "author": person(message.author),
        "kind": message.kind,
    }


def conversation_frame(conversation: Conversation) -> dict:
    return {
        "type": "conversation",
        "status": conversation.status,
        "agent": person(conversation.agent),
        "ticket": conversation.ticket_id,
        "resolved_in_chat": conversation.resolved_in_chat,
    }


def read_frame(user_id: int, up_to: int) -> dict:
    return {"type": "read", "user": user_id, "up_to": up_to}


def typing_frame(user: User) -> dict:
    return {"type": "typing", "author": person(user)}


def error_frame(code: str, detail: str) -> dict:
    return {"type": "error", "code": code, "detail": detail}


def queue_entry(conversation: Conversation) -> dict:
    """One conversation as the agents' queue panel shows it."""
    return {
        "id": conversation.pk,
        "topic": conversation.topic,
        "status": conversation.status,
        "franchise": conversation.franchise.name,
        "franchisee": person(conversation.franchisee),
        "agent": person(conversation.agent),
        "created": conversation.created_at.isoformat(),
        "url": conversation.get_absolute_url(),
    }


def queue_frame(event: str, conversation: Conversation, waiting: int) -> dict:
    """`queue` frame pushed to every agent on /ws/notifications/ (docs/CHAT.md)."""
    return {"type": "queue", "event": event, "conversation": queue_entry(conversation), "waiting": waiting}
