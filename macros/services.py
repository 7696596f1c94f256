"""Writes of macros: create/edit/delete, and sending a reply that used one (actions + usage count).

Ticket actions go through tickets.services, so they keep that app's rules (state machine,
assignment rights), timeline events and notifications; the reply, the actions and the usage count
are one transaction: if an action is refused nothing is stored and the form shows why.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.access import is_agent, is_supervisor
from accounts.models import User
from chat.models import Message
from macros import rendering, selectors
from macros.models import BODY_MAX, Macro, MacroUse
from tickets import services as ticket_services
from tickets.models import Comment, Status, Ticket

FIELDS = ("name", "body", "set_status", "set_priority", "assign_to_self", "assignee")


class MacroError(Exception):
    """A refused macro write (not an agent, not theirs to edit)."""


def validate_macro(macro: Macro) -> None:
    errors: dict[str, list[str]] = {}
    if unknown := rendering.unknown_placeholders(macro.body):
        names = ", ".join(f"{{{{{name}}}}}" for name in unknown)
        errors["body"] = [_("Marcadores desconocidos: %(names)s.") % {"names": names}]
    if len(macro.body) > BODY_MAX or not macro.body.strip():
        errors.setdefault("body", []).append(_("Escribe un texto de hasta %(max)d caracteres.") % {"max": BODY_MAX})
    if macro.assign_to_self and macro.assignee_id:
        errors["assignee"] = [_("Elige «asignarme» o un agente, no los dos.")]
    if macro.assignee_id and not is_agent(macro.assignee):
        errors["assignee"] = [_("Solo se puede asignar a un agente activo.")]
    if errors:
        raise ValidationError(errors)
    try:
        macro.validate_constraints()
    except ValidationError:
        raise ValidationError({"name": [_("Ya hay una respuesta predefinida con ese nombre.")]}) from None


def create_macro(*, actor: User, shared: bool = False, **values) -> Macro:
    """A personal macro of `actor`, or (supervisors only) a shared one."""
    if not is_agent(actor):
        raise MacroError(_("Solo el equipo de soporte usa respuestas predefinidas."))
    if shared and not is_supervisor(actor):
        raise MacroError(_("Solo un supervisor crea respuestas compartidas."))
    macro = Macro(owner=None if shared else actor, created_by=actor, **{k: v for k, v in values.items() if k in FIELDS})
    validate_macro(macro)
    with transaction.atomic():
        macro.save()
    return macro


def update_macro(*, macro: Macro, actor: User, **values) -> Macro:
    if not selectors.can_edit(actor, macro):
        raise MacroError(_("No puedes cambiar esta respuesta predefinida."))
    for key, value in values.items():
        if key in FIELDS:
            setattr(macro, key, value)
    validate_macro(macro)
    with transaction.atomic():
        macro.save()
    return macro


def delete_macro(*, macro: Macro, actor: User) -> None:
    if not selectors.can_edit(actor, macro):
        raise MacroError(_("No puedes borrar esta respuesta predefinida."))
    macro.delete()


def _count(macro: Macro, actor: User, *, comment: Comment | None = None, message: Message | None = None) -> bool:
    """Record one use (once per reply); True if it was new."""
    try:
        with transaction.atomic():
            MacroUse.objects.create(macro=macro, user=actor, comment=comment, message=message)
    except IntegrityError:
        return False
    Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1)
    return True


def apply_actions(*, macro: Macro, ticket: Ticket, actor: User) -> Ticket:
    """The macro's ticket actions, each through its ticket service (events, notifications, rules)."""
    if macro.set_priority and ticket.priority != macro.set_priority:
        ticket = ticket_services.change_priority(ticket=ticket, actor=actor, priority=macro.set_priority)
    assignee = actor if macro.assign_to_self else macro.assignee
    if assignee is not None and ticket.assignee_id != assignee.pk:
        ticket = ticket_services.assign(ticket=ticket, actor=actor, assignee=assignee)
    if macro.set_status and ticket.status != macro.set_status:
        ticket = ticket_services.change_status(ticket=ticket, actor=actor, status=macro.set_status)
    return ticket


def reply_to_ticket(
    *,
    ticket: Ticket,
    actor: User,
    macro: Macro,
    body: str,
    internal: bool = False,
    attachments: Iterable[UploadedFile] = (),
    time_spent_minutes: int | None = None,
) -> Comment:
    """Send the (edited) reply, apply the macro's actions and count the use, all or nothing."""
    if not is_agent(actor):
        raise MacroError(_("Solo el equipo de soporte usa respuestas predefinidas."))
    macro = selectors.macro_for(actor, macro.pk)  # another agent's personal macro: 404
    if ticket.status == Status.CLOSED and not internal:
        # its actions would move a closed ticket; a plain reply opens a follow-up instead
        raise MacroError(
            _(
                "El ticket está cerrado: una respuesta predefinida no se aplica; "
                "envía la respuesta sin ella para abrir un seguimiento."
            )
        )
    with transaction.atomic():
        comment = ticket_services.add_comment(
            ticket=ticket,
            actor=actor,
            body=body,
            internal=internal,
            attachments=attachments,
            time_spent_minutes=time_spent_minutes,
        )
        apply_actions(macro=macro, ticket=comment.ticket, actor=actor)
        _count(macro, actor, comment=comment)
    return comment


def record_chat_use(*, macro: Macro, actor: User, message_id: int) -> bool:
    """Count a chat message the agent sent with a macro (the message must be theirs, once).

    The macro's ticket actions (status, priority, assignee) apply to the ticket linked to the
    conversation, if there is one, once with the count; a chat without a ticket has nothing they
    could act on (a chat has no status or priority of its own), so they are not applied then. An
    action the ticket refuses (e.g. a transition its state does not allow) changes nothing.
    """
    macro = selectors.macro_for(actor, macro.pk)
    message = Message.objects.filter(pk=message_id, author=actor).select_related("conversation__ticket").first()
    if message is None:
        raise MacroError(_("Ese mensaje no existe o no es tuyo."))
    with transaction.atomic():
        counted = _count(macro, actor, message=message)
        ticket = message.conversation.ticket
        if counted and ticket is not None:
            try:
                with transaction.atomic():
                    apply_actions(macro=macro, ticket=ticket, actor=actor)
            except ticket_services.TicketError:
                pass  # the reply is sent; the ticket keeps its state
    return counted
