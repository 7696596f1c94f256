"""The hook points the services call: each event is emitted once, after its transaction commits.

`tickets.services._event` (every timeline line) and `chat.services._close` call in here, so the
pages, the API, the admin, Celery tasks and the e-mail channel all fire the same events. This
module imports no app at load time (tickets and chat import it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction

_local = threading.local()


@dataclass
class _Pending:
    """One event waiting for the commit; later calls in the same transaction add their changes to it."""

    event: str
    key: tuple
    build: Callable[[list[dict]], dict]
    changes: list[dict] = field(default_factory=list)

    def __call__(self) -> None:
        _pending().pop(self.key, None)
        from api.webhooks import dispatch

        dispatch(self.event, lambda: self.build(self.changes))


def _pending() -> dict[tuple, _Pending]:
    if not hasattr(_local, "pending"):
        _local.pending = {}
    return _local.pending


def _scheduled(item: _Pending) -> bool:
    """Still waiting for this transaction's commit (a rollback drops Django's callbacks, not our map)."""
    connection = connections[DEFAULT_DB_ALIAS]
    return any(callback is item for _sids, callback, _robust in connection.run_on_commit)


def emit(event: str, key: tuple, build: Callable[[list[dict]], dict], change: dict | None = None) -> None:
    """Send `event` after commit, once per `key` and transaction, with the payload `build(changes)`."""
    pending = _pending()
    item = pending.get(key)
    if item is not None and _scheduled(item):
        if change:
            item.changes.append(change)
        return
    item = _Pending(event=event, key=key, build=build, changes=[change] if change else [])
    pending[key] = item
    transaction.on_commit(item, robust=True)


def ticket_event_recorded(event) -> None:
    """A timeline line of a ticket was written: ticket.created, comment.created or ticket.updated."""
    from tickets.models import Event

    ticket_id = event.ticket_id
    if event.kind == Event.Kind.CREATED:
        emit("ticket.created", ("ticket", ticket_id), lambda _changes: _ticket_payload(ticket_id))
    elif event.kind in (Event.Kind.COMMENTED, Event.Kind.NOTE) and event.comment_id:
        comment_id = event.comment_id
        emit("comment.created", ("comment", comment_id), lambda _changes: _comment_payload(comment_id))
    else:
        created = _pending().get(("ticket", ticket_id))
        if created is not None and created.event == "ticket.created" and _scheduled(created):
            return  # the ticket.created payload already shows the final state
        change = {"field": event.kind, "old": event.old_value, "new": event.new_value, "internal": event.internal}
        emit(
            "ticket.updated",
            ("ticket", ticket_id),
            lambda changes: {**_ticket_payload(ticket_id), "changes": changes},
            change,
        )


def chat_closed(conversation) -> None:
    conversation_id = conversation.pk
    emit("chat.closed", ("chat", conversation_id), lambda _changes: _chat_payload(conversation_id))


def _ticket_payload(ticket_id: int) -> dict:
    from api.serializers import TicketSerializer
    from tickets.models import Ticket

    ticket = Ticket.objects.select_related("franchise", "requester", "assignee", "category").get(pk=ticket_id)
    return {"ticket": TicketSerializer(ticket).data}


def _comment_payload(comment_id: int) -> dict:
    from api.serializers import CommentSerializer
    from tickets.models import Comment

    comment = Comment.objects.select_related("author", "ticket").get(pk=comment_id)
    return {"ticket_id": comment.ticket_id, "comment": CommentSerializer(comment).data}


def _chat_payload(conversation_id: int) -> dict:
    from api.serializers import ConversationSerializer
    from chat.models import Conversation

    conversation = Conversation.objects.select_related("franchise", "franchisee", "agent").get(pk=conversation_id)
    return {"chat": ConversationSerializer(conversation).data}
