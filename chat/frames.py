"""JSON frames of the /ws/chat/ protocol (DESIGN.md "WebSocket contract") and the agents' queue."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from chat.models import BODY_MAX, Conversation, Message
from support_portal.stored_text import render

if TYPE_CHECKING:
    from accounts.models import User

GROUP_PREFIX = "chat.conversation."
# Largest client frame parsed (characters): a BODY_MAX body with every character JSON-escaped
# (\uXXXX) fits. Longer frames, up to the server's transport limit (Daphne: 1 MiB, closed with
# 1009 above it), are answered `too_long` without being parsed.
MAX_FRAME_CHARS = 32_000
_SURROGATE = re.compile("[\ud800-\udfff]")


class FrameError(Exception):
    """A client frame that cannot be used; `code` and `detail` make its `error` frame."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_frame(text: str | None) -> dict:
    """A client frame as a dict with a string `type`, or FrameError (`invalid` / `too_long`).

    Refused: binary frames, frames over MAX_FRAME_CHARS, anything that is not a JSON object with
    a string `type`, JSON nested too deep for the parser, and strings with a lone UTF-16
    surrogate (`"\\ud800"` is valid JSON but not text: it can be neither stored nor sent back).
    """
    if text is None:
        raise FrameError("invalid", _("Trama no válida: se esperan tramas de texto JSON."))
    if len(text) > MAX_FRAME_CHARS:
        raise FrameError("too_long", _("El mensaje supera los %(max)d caracteres.") % {"max": BODY_MAX})
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        frame = None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("invalid", _("Trama no válida: se espera un objeto JSON con «type»."))
    for key, value in frame.items():
        if _SURROGATE.search(key) or (isinstance(value, str) and _SURROGATE.search(value)):
            raise FrameError("invalid", _("El mensaje contiene caracteres no válidos (un emoji incompleto)."))
    return frame


def conversation_group(conversation_id: int) -> str:
    """Channel-layer group of every socket open on one conversation."""
    return f"{GROUP_PREFIX}{conversation_id}"


def person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "role": user.role}


def message_frame(message: Message) -> dict:
    """`message` frame; system messages (joins, transfers, ticket links) have author None.

    A system message's frame also carries its stored text under `text`: the frames of a
    conversation's group are shared by readers of different languages, so each socket renders
    it for its own reader with localize() just before sending (the client never sees `text`).
    """
    frame = {
        "type": "message",
        "id": message.pk,
        "conversation": message.conversation_id,
        "client_id": message.client_id or None,
        "body": message.body,
        "created": message.created_at.isoformat(),
        "author": person(message.author),
        "kind": message.kind,
        "attachment": attachment_frame(message),
    }
    if message.body_text:
        frame["text"] = message.body_text
    return frame


def attachment_frame(message: Message) -> dict | None:
    """The file a message carries (chat.attachments), or None: read without a query when the
    message has none (`attachment_id`), and selected with the message by chat.selectors.history."""
    if message.attachment_id is None:
        return None
    attachment = message.attachment
    return {
        "id": attachment.pk,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": attachment.get_absolute_url(),
        "thumbnail": attachment.get_thumbnail_url(),
    }


def localize(frame: dict, language: str) -> dict:
    """The frame as sent to a reader of `language`: a stored text rendered into `body`."""
    if "text" not in frame:
        return frame
    localized = {key: value for key, value in frame.items() if key != "text"}
    localized["body"] = render(frame["text"], language)
    return localized


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


def agent_status_frame(row: dict) -> dict:
    """`agent_status` frame to supervisors on /ws/notifications/: one agent's state and load.

    `state` is what the board shows: `offline` (no socket open) whatever the chosen `status`.
    """
    return {
        "type": "agent_status",
        "agent": person(row["agent"]),
        "status": row["status"],
        "online": row["online"],
        "state": row["state"],
        "active": row["active"],
        "capacity": row["capacity"],
    }


def wait_frame(minutes: int | None) -> dict:
    """`wait` frame to a waiting conversation: about how many minutes until an agent answers
    (null: nobody online)."""
    return {"type": "wait", "minutes": minutes}
