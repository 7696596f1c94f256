"""Every write of the chat: one transaction each, system messages as the audit trail, and
frames/notifications sent only after commit (a message is stored before it is broadcast)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import is_agent, is_franchisee
from accounts.models import User
from api import events as webhook_events
from chat import limits, presence, selectors
from chat.frames import conversation_frame, conversation_group, message_frame, queue_frame, read_frame
from chat.models import BODY_MAX, CLIENT_ID_MAX, TOPIC_MAX, Attachment, Conversation, Message, ReadMarker
from notifications.kinds import CHAT_ACCEPTED, CHAT_MESSAGE, TICKET_STATUS
from notifications.models import Notification
from notifications.services import notify, push_to_agents, push_to_group
from support_portal.stored_text import StoredText, language_of, render, stored
from support_portal.text import has_visible_text

if TYPE_CHECKING:
    from tickets.models import Ticket

MAX_OPEN_PER_FRANCHISEE = 5
ACTIVITY_RESOLUTION = timedelta(seconds=30)  # last_activity_at is refreshed at most this often per message


class ChatError(Exception):
    """A refused action; `code` is the protocol's error code."""

    code = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Invalid(ChatError):
    code = "invalid"


class TooLong(ChatError):
    code = "too_long"


class RateLimited(ChatError):
    code = "rate_limited"


class Forbidden(ChatError):
    code = "forbidden"


class AlreadyTaken(ChatError):
    """Another agent accepted the conversation first."""

    code = "conflict"

    def __init__(self, detail: str, agent: User | None) -> None:
        super().__init__(detail)
        self.agent = agent


def inactivity_limit() -> timedelta:
    return timedelta(minutes=getattr(settings, "CHAT_INACTIVE_MINUTES", 30))


# --- helpers --------------------------------------------------------------------------------


def _dispatch():
    """chat.dispatch (routing, the supervisors' board) imports this module: import it late."""
    from chat import dispatch

    return dispatch


def _broadcast(conversation_id: int, frame: dict) -> None:
    """Send a frame to the conversation's sockets once the transaction commits."""
    transaction.on_commit(lambda: push_to_group(conversation_group(conversation_id), frame), robust=True)


def _push_queue(event: str, conversation: Conversation) -> None:
    push_to_agents(queue_frame(event, conversation, selectors.waiting_count()))
    _dispatch().push_waits_after_commit()  # the queue moved: every waiting chat's estimate


def _system_message(conversation: Conversation, text: StoredText) -> Message:
    """Store a system message as a stored text (each reader sees it in their language)."""
    message = Message.objects.create(
        conversation=conversation,
        kind=Message.Kind.SYSTEM,
        body=render(text, settings.LANGUAGE_CODE)[:BODY_MAX],
        body_text=text,
    )
    _broadcast(conversation.pk, message_frame(message))
    return message


def _locked(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("franchise", "franchisee", "agent")
        .get(pk=conversation_id)
    )


def _visible_locked(user: User, conversation_id: int) -> Conversation:
    """Lock the conversation; a user who may not see it gets Forbidden (pages turn it into 404)."""
    if selectors.find_conversation(user, conversation_id) is None:
        raise Forbidden(_("Conversación no encontrada."))
    return _locked(conversation_id)


def _status_changed(conversation: Conversation) -> None:
    conversation.last_activity_at = timezone.now()
    conversation.save()
    _broadcast(conversation.pk, conversation_frame(conversation))


# --- use cases ------------------------------------------------------------------------------


@transaction.atomic
def start_conversation(*, franchisee: User, topic: str) -> Conversation:
    """A franchisee opens a chat; it waits in the agents' queue."""
    if not is_franchisee(franchisee):
        raise Forbidden(_("Solo un franquiciado puede iniciar un chat."))
    topic = " ".join((topic or "").split())
    if not has_visible_text(topic):
        raise Invalid(_("Indica el tema de la consulta."))
    if len(topic) > TOPIC_MAX:
        raise TooLong(_("El tema no puede superar %(max)d caracteres.") % {"max": TOPIC_MAX})
    open_count = Conversation.objects.filter(franchisee=franchisee).exclude(status=Conversation.Status.CLOSED).count()
    if open_count >= MAX_OPEN_PER_FRANCHISEE:
        raise RateLimited(_("Ya tienes demasiados chats abiertos: cierra alguno antes de empezar otro."))
    conversation = Conversation.objects.create(franchise_id=franchisee.franchise_id, franchisee=franchisee, topic=topic)
    _system_message(conversation, stored("Chat iniciado: «%(topic)s».", topic=topic))
    _push_queue("added", conversation)
    _dispatch().route_after_commit(conversation.pk)  # to an available agent at once, if anyone has room
    return conversation


@transaction.atomic
def accept_conversation(*, conversation_id: int, agent: User) -> Conversation:
    """An agent takes a waiting conversation; of two agents exactly one wins (AlreadyTaken names the winner)."""
    if not is_agent(agent):
        raise Forbidden(_("Solo un agente puede aceptar un chat."))
    conversation = activate(conversation_id=conversation_id, agent=agent)
    if conversation is not None:
        return conversation
    conversation = _locked(conversation_id)
    taker = conversation.agent
    if taker is not None and taker.pk == agent.pk and conversation.status == Conversation.Status.ACTIVE:
        return conversation
    if conversation.status == Conversation.Status.CLOSED:
        raise AlreadyTaken(_("Esta conversación ya está cerrada."), taker)
    raise AlreadyTaken(
        _("%(name)s ya ha aceptado esta conversación.") % {"name": taker.display_name if taker else "—"}, taker
    )


@transaction.atomic
def activate(*, conversation_id: int, agent: User, routed: bool = False) -> Conversation | None:
    """Make a waiting conversation active with `agent` (a manual accept, or routing when `routed`).

    None when it is not waiting any more. One conditional UPDATE as the first statement of its
    write: atomic on every database (PostgreSQL row lock, SQLite write lock), so of two agents
    (or an agent and the router) exactly one changes the row. Both paths leave the same trail: the
    `conversation` frame, "X se ha unido al chat.", the franchisee's notification, a `taken` queue frame.
    """
    now = timezone.now()
    won = Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.WAITING).update(
        status=Conversation.Status.ACTIVE, agent=agent, accepted_at=now, last_activity_at=now
    )
    if not won:
        return None
    conversation = _locked(conversation_id)
    _broadcast(conversation.pk, conversation_frame(conversation))
    _system_message(conversation, stored("%(name)s se ha unido al chat.", name=agent.display_name))
    notify(
        recipient=conversation.franchisee,
        kind=CHAT_ACCEPTED,
        title=stored("%(name)s ha aceptado tu chat", name=agent.display_name),
        body=conversation.topic,
        url=conversation.get_absolute_url(),
        target=conversation,
        actor=agent,
    )
    if routed:  # the agent did not click: tell them (bell, and the queue panel moves it to "mine")
        notify(
            recipient=agent,
            kind=CHAT_MESSAGE,
            title=stored("Te han asignado un chat: %(topic)s", topic=conversation.topic),
            body=conversation.franchise.name,
            url=conversation.get_absolute_url(),
            target=conversation,
        )
    _push_queue("taken", conversation)
    _dispatch().push_board_after_commit([agent.pk])
    return conversation


@transaction.atomic
def transfer_conversation(*, conversation_id: int, actor: User, to_agent: User) -> Conversation:
    """The assigned agent (or a supervisor) hands an active conversation to another agent."""
    conversation = _visible_locked(actor, conversation_id)
    if not selectors.can_manage(actor, conversation):
        raise Forbidden(_("Solo el agente del chat o un supervisor puede transferirlo."))
    if conversation.status != Conversation.Status.ACTIVE:
        raise Invalid(_("Solo se puede transferir un chat activo."))
    if not is_agent(to_agent) or to_agent.pk == conversation.agent_id:
        raise Invalid(_("Elige otro agente."))
    previous = conversation.agent
    conversation.agent = to_agent
    _status_changed(conversation)
    _system_message(
        conversation,
        stored(
            "%(old)s ha transferido el chat a %(new)s.",
            old=previous.display_name if previous else "—",
            new=to_agent.display_name,
        ),
    )
    notify(
        recipient=to_agent,
        kind=CHAT_MESSAGE,
        title=stored("Te han transferido un chat"),
        body=conversation.topic,
        url=conversation.get_absolute_url(),
        target=conversation,
        actor=actor,
    )
    _push_queue("transferred", conversation)
    _dispatch().push_board_after_commit([previous.pk if previous else None, to_agent.pk])
    _dispatch().route_after_commit()  # the previous agent has room again
    return conversation


def _close(conversation: Conversation, actor: User | None, text: StoredText) -> Conversation:
    was_waiting = conversation.status == Conversation.Status.WAITING
    if conversation.status == Conversation.Status.ACTIVE:  # its agent has room again
        _dispatch().push_board_after_commit([conversation.agent_id])
        _dispatch().route_after_commit()
    conversation.status = Conversation.Status.CLOSED
    conversation.closed_at = timezone.now()
    conversation.closed_by = actor
    _status_changed(conversation)
    _system_message(conversation, text)
    _push_queue("closed" if not was_waiting else "removed", conversation)
    webhook_events.chat_closed(conversation)  # the one hook of chat.closed, sent after commit
    return conversation


def _require_participant(user: User, conversation: Conversation) -> None:
    if is_agent(user):
        return
    if user.pk != conversation.franchisee_id:
        raise Forbidden(_("Solo los participantes pueden hacer esto."))


@transaction.atomic
def close_conversation(*, conversation_id: int, actor: User) -> Conversation:
    """The franchisee, the assigned agent or a supervisor ends the conversation (closing twice
    changes nothing); another agent is refused, as for a transfer."""
    conversation = _visible_locked(actor, conversation_id)
    if not selectors.can_close(actor, conversation):
        raise Forbidden(_("Solo el franquiciado, el agente del chat o un supervisor puede cerrarlo."))
    if conversation.status == Conversation.Status.CLOSED:
        return conversation
    return _close(
        conversation,
        actor,
        stored("%(name)s ha cerrado el chat.", name=actor.display_name),
    )


@transaction.atomic
def resolve_in_chat(*, conversation_id: int, actor: User) -> Conversation:
    """The assigned agent (or a supervisor) marks the problem solved in the chat, which closes it."""
    conversation = _visible_locked(actor, conversation_id)
    if not selectors.can_manage(actor, conversation):
        raise Forbidden(_("Solo el agente del chat o un supervisor puede marcarlo como resuelto."))
    if conversation.status == Conversation.Status.WAITING:
        raise Invalid(_("Acepta el chat antes de resolverlo."))
    conversation.resolved_in_chat = True
    if conversation.status == Conversation.Status.CLOSED:
        conversation.save(update_fields=["resolved_in_chat"])
        _broadcast(conversation.pk, conversation_frame(conversation))
        return conversation
    return _close(
        conversation,
        actor,
        stored("%(name)s ha marcado el problema como resuelto.", name=actor.display_name),
    )


def close_inactive_conversations(*, now=None) -> int:
    """Close conversations without activity for CHAT_INACTIVE_MINUTES (Celery beat). Returns how many."""
    cutoff = (now or timezone.now()) - inactivity_limit()
    stale = list(
        Conversation.objects.filter(last_activity_at__lt=cutoff)
        .exclude(status__in=[Conversation.Status.CLOSED, Conversation.Status.WAITING])  # waiting: a ticket instead
        .values_list("pk", flat=True)[:500]
    )
    closed = 0
    for pk in stale:
        with transaction.atomic():
            conversation = _locked(pk)
            if conversation.status != Conversation.Status.ACTIVE or conversation.last_activity_at >= cutoff:
                continue
            _close(
                conversation,
                None,
                stored("Chat cerrado por inactividad. Si el problema continúa, abre un ticket."),
            )
            closed += 1
    return closed


def clean_message(body: object, client_id: object) -> str:
    """Refuse a message body/client_id that cannot be stored (Invalid, TooLong); the stripped client_id."""
    if not isinstance(body, str) or not isinstance(client_id, str):
        raise Invalid(_("Mensaje mal formado."))
    if "\x00" in body or "\x00" in client_id:
        # Like Django's form fields: NUL is never valid text (and PostgreSQL refuses to store it).
        raise Invalid(_("El mensaje contiene caracteres no permitidos."))
    if not _is_text(body) or not _is_text(client_id):
        # A lone UTF-16 surrogate (half an emoji) is not text: no database can store it.
        raise Invalid(_("El mensaje contiene caracteres no válidos (un emoji incompleto)."))
    client_id = client_id.strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX:
        raise Invalid(_("client_id debe tener entre 1 y %(max)d caracteres.") % {"max": CLIENT_ID_MAX})
    if not has_visible_text(body):
        raise Invalid(_("El mensaje está vacío."))
    if len(body) > BODY_MAX:
        raise TooLong(_("El mensaje supera los %(max)d caracteres.") % {"max": BODY_MAX})
    return client_id


def post_message(
    *,
    conversation_id: int,
    author: User,
    body: str,
    client_id: str,
    broadcast: bool = True,
    attachment: Attachment | None = None,
) -> tuple[Message, bool]:
    """Store a message, then broadcast it. Returns (message, created).

    The same client_id from the same author returns the original message and stores nothing
    (a retry after a reconnect). Refusals raise Invalid, TooLong, Forbidden or RateLimited.
    broadcast=False leaves the broadcast of a new message to the caller (the consumer does it
    on its event loop, after this returns, so the database thread is not held by Redis).
    """
    client_id = clean_message(body, client_id)
    conversation = selectors.posting_state(author, conversation_id)
    refusal = None
    if conversation is None or not selectors.can_post(author, conversation):
        refusal = Forbidden(_("No puedes escribir en esta conversación."))
    elif not limits.hit(author.pk):
        refusal = RateLimited(_("Demasiados mensajes seguidos: espera unos segundos."))
    if refusal is not None:
        # A retry of a message already stored is answered even when a new one would be refused.
        existing = selectors.find_by_client_id(conversation_id, author.pk, client_id)
        if existing is not None:
            return existing, False
        raise refusal
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation, author=author, body=body, client_id=client_id, attachment=attachment
            )
            if message.created_at - conversation.last_activity_at > ACTIVITY_RESOLUTION:
                Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=message.created_at)
            if broadcast:
                _broadcast(conversation.pk, message_frame(message))
            _notify_absent(conversation, author, message)
    except IntegrityError:
        # The same client_id is already stored (a retry, or a concurrent one): answer with it.
        existing = selectors.find_by_client_id(conversation_id, author.pk, client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _notify_absent(conversation: Conversation, author: User, message: Message) -> None:
    """chat_message notification for each participant not viewing the conversation
    (one unread notification per conversation is enough)."""
    for recipient_id in {conversation.franchisee_id, conversation.agent_id} - {None, author.pk}:
        if presence.is_viewing(conversation.pk, recipient_id):
            continue
        recipient = User.objects.filter(pk=recipient_id, is_active=True).first()
        if recipient is None:
            continue
        pending = Notification.objects.filter(
            recipient=recipient,
            kind=CHAT_MESSAGE,
            target_id=str(conversation.pk),
            target_type__model="conversation",
            target_type__app_label="chat",
            read_at__isnull=True,
        ).exists()
        if pending:
            continue
        notify(
            recipient=recipient,
            kind=CHAT_MESSAGE,
            title=stored("Nuevo mensaje de %(name)s", name=author.display_name),
            body=message.body[:200],
            url=conversation.get_absolute_url(),
            target=conversation,
            actor=author,
        )


@transaction.atomic
def mark_read(*, conversation_id: int, user: User, up_to: int) -> int | None:
    """Move the user's read marker forward to `up_to` (capped at the last message).
    Returns the new marker, or None when nothing changed. Only a participant (the franchisee,
    the assigned agent) has a marker: anyone else's read is ignored, not shown as ✓✓."""
    if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 0:
        raise Invalid(_("up_to debe ser un id de mensaje."))
    conversation = selectors.posting_state(user, conversation_id)
    if conversation is None or user.pk not in selectors.participant_ids(conversation):
        return None  # only the participants' reads count: a colleague looking in stores nothing
    last = (
        Message.objects.filter(conversation_id=conversation_id, id__lte=up_to)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if last is None:
        return None
    marker, _created = ReadMarker.objects.select_for_update().get_or_create(conversation_id=conversation_id, user=user)
    if last <= marker.last_read_message_id:
        return None
    marker.last_read_message_id = last
    marker.save(update_fields=["last_read_message_id", "updated_at"])
    _broadcast(conversation_id, read_frame(user.pk, last))
    return last


@transaction.atomic
def rate_conversation(*, conversation_id: int, user: User, rating: int, comment: str = "") -> Conversation:
    """The conversation's franchisee rates it (1–5) once it is closed; rating again replaces it."""
    conversation = _visible_locked(user, conversation_id)
    if user.pk != conversation.franchisee_id:
        raise Forbidden(_("Solo quien abrió el chat puede valorarlo."))
    if conversation.status != Conversation.Status.CLOSED:
        raise Invalid(_("Podrás valorar el chat cuando esté cerrado."))
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid(_("La valoración va de 1 a 5."))
    conversation.rating = rating
    conversation.rating_comment = (comment or "").strip()[:1000]
    conversation.save(update_fields=["rating", "rating_comment"])
    return conversation


@transaction.atomic
def conversation_to_ticket(*, conversation_id: int, actor: User) -> Ticket:
    """Create a ticket holding the transcript, link both, and say so in the chat.

    A waiting conversation leaves the queue (the ticket takes over); an active one stays open.
    Asking twice returns the ticket already linked. The ticket is assigned to the chat's agent.
    """
    conversation = _visible_locked(actor, conversation_id)
    _require_participant(actor, conversation)
    if conversation.ticket_id is not None:
        return conversation.ticket
    return _make_ticket(conversation, actor)


def _make_ticket(conversation: Conversation, actor: User, *, unanswered: bool = False) -> Ticket:
    """The ticket of a locked conversation: transcript, files, assignee, system messages, frames."""
    from chat import attachments as chat_attachments
    from tickets.attachments import MAX_FILES
    from tickets.services import TicketError, assign, create_ticket

    # The description is one text read by everyone: in the requester's language and time zone (named).
    reader = conversation.franchisee
    with translation.override(language_of(reader)):
        description = _("Ticket creado desde el chat #%(id)s.\n\nTranscripción:\n\n%(transcript)s") % {
            "id": conversation.pk,
            "transcript": selectors.transcript(conversation, reader),
        }
    files = chat_attachments.as_ticket_files(conversation)
    try:
        ticket = create_ticket(
            actor=actor,
            subject=conversation.topic,
            description=description[:20_000],
            franchise=conversation.franchise,
            requester=conversation.franchisee,
            source="chat",
            attachments=files[:MAX_FILES],
        )
        chat_attachments.add_remaining_to_ticket(ticket, actor, conversation, files[MAX_FILES:])
    finally:
        for file in files:
            file.close()
    if is_agent(conversation.agent) and ticket.assignee_id != conversation.agent_id:
        # whoever converts it, the agent who handled the chat keeps the case
        # (auto-assigned to someone only a supervisor may take it from: left as it is)
        with contextlib.suppress(TicketError):
            ticket = assign(ticket=ticket, actor=conversation.agent, assignee=conversation.agent)
    conversation.ticket = ticket
    number = getattr(ticket, "number", ticket.pk)
    url = f"/tickets/{ticket.pk}/"
    if unanswered:
        minutes = selectors.unanswered_minutes()
        _system_message(
            conversation,
            stored(
                "Nadie ha podido atenderte en %(minutes)s minutos: hemos convertido el chat en el ticket "
                "%(number)s y te responderemos allí: %(url)s",
                minutes=minutes,
                number=number,
                url=url,
            ),
        )
        notify(
            recipient=conversation.franchisee,
            kind=TICKET_STATUS,
            title=stored("Tu chat sin respuesta sigue en el ticket %(number)s", number=number),
            body=conversation.topic,
            url=url,
            target=ticket,
        )
    else:
        _system_message(
            conversation,
            stored("Se ha creado el ticket %(number)s con esta conversación: %(url)s", number=number, url=url),
        )
    if conversation.status == Conversation.Status.WAITING:
        _close(conversation, actor, stored("El chat se cierra: el seguimiento continúa en el ticket."))
    else:
        _status_changed(conversation)
    return ticket


def ticket_unanswered_conversations(*, now=None) -> int:
    """Celery beat: every chat waiting longer than CHAT_UNANSWERED_MINUTES becomes a ticket with
    its transcript, on the franchisee's behalf; they are told in the chat (system message, live
    `conversation` frame with the ticket) and by notification. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(minutes=selectors.unanswered_minutes())
    done = 0
    for pk in selectors.unanswered_ids(now):
        with transaction.atomic():
            # skip a chat another worker (or a router, or an accepting agent) holds right now
            locked = (
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Conversation.Status.WAITING, created_at__lt=cutoff, ticket__isnull=True)
                .values_list("pk", flat=True)
                .first()
            )
            if locked is None:
                continue
            conversation = _locked(pk)
            if not is_franchisee(conversation.franchisee):
                # a deactivated franchisee cannot own a new ticket: close, saying why, in the chat
                _close(conversation, None, stored("Chat cerrado: nadie ha podido atenderlo a tiempo."))
                continue
            _make_ticket(conversation, conversation.franchisee, unanswered=True)
            done += 1
    return done


def draft_article(*, conversation_id: int, actor: User):
    """Ask the knowledge base for a draft article prefilled from this conversation (agents)."""
    from knowledge_base.services import draft_article_from_conversation

    if not is_agent(actor):
        raise Forbidden(_("Solo un agente puede redactar artículos."))
    conversation = selectors.find_conversation(actor, conversation_id)
    if conversation is None:
        raise Forbidden(_("Conversación no encontrada."))
    return draft_article_from_conversation(conversation=conversation, actor=actor)
