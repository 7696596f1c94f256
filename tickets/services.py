"""Every write on tickets: one transaction, a timeline event, notifications on commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can_see_franchise, is_agent, is_franchisee, is_supervisor
from accounts.models import Franchise, User
from api import events as webhook_events
from notifications import kinds
from notifications.services import notify_many
from support_portal import throttle
from support_portal.stored_text import StoredText, choice, names, render, stored
from support_portal.text import INVISIBLE_MESSAGE, has_visible_text
from tickets import assignment, audit, search, sla
from tickets import custom_fields as cf
from tickets.attachments import SERVE_AS, extension_of, safe_display_name, storage_name, validate_uploads
from tickets.models import (
    ACTIVE_STATUSES,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    SUBJECT_MAX,
    TIME_SPENT_MAX,
    Attachment,
    Category,
    Comment,
    CustomValue,
    Event,
    Priority,
    SavedView,
    SlaState,
    Source,
    Status,
    Tag,
    Ticket,
    TicketLink,
    watcher_outsiders,
)
from tickets.tags import check_count, parse_tags


class TicketError(Exception):
    """A use-case rule refused the change; the message is meant for the user."""


# --- helpers -----------------------------------------------------------------


def _event(ticket: Ticket, actor: User | None, kind: str, old: str = "", new: str = "", **extra) -> Event:
    extra.setdefault("via", audit.current())
    event = Event.objects.create(
        ticket=ticket, actor=actor, kind=kind, old_value=str(old)[:200], new_value=str(new)[:200], **extra
    )
    _recorded([event])
    return event


def _events(ticket: Ticket, lines: Iterable[tuple[User | None, str, str, str]]) -> list[Event]:
    """Several timeline lines of one ticket — (actor, kind, old, new) — in one INSERT."""
    via = audit.current()
    events = Event.objects.bulk_create(
        [
            Event(ticket=ticket, actor=actor, kind=kind, old_value=str(old)[:200], new_value=str(new)[:200], via=via)
            for actor, kind, old, new in lines
        ]
    )
    _recorded(events)
    return events


def _recorded(events: list[Event]) -> None:
    for event in events:
        webhook_events.ticket_event_recorded(event)  # the one hook of ticket webhooks, sent after commit
    transaction.on_commit(_tab_counts_changed)  # the /agent/ tab counts go stale (recounted lazily)


def _tab_counts_changed() -> None:
    from tickets import tab_counts

    tab_counts.changed()


def _tell(
    recipients: Iterable[User | None],
    *,
    kind: str,
    ticket: Ticket,
    title: StoredText,
    body: StoredText | str = "",
    actor: User | None = None,
    internal: bool = False,
) -> None:
    """Notify each recipient once: one notify_many(), whatever the number of recipients.

    `title` is a stored text, so each recipient reads it in their language when they read it.
    """
    notify_many(
        [r for r in recipients if r is not None],
        kind=kind,
        title=title,
        body=body,
        url=ticket.get_absolute_url(),
        target=ticket,
        actor=actor,
        internal=internal,
    )


def _followers(ticket: Ticket) -> list[User]:
    """Requester and watchers: the people told about public changes."""
    people = [ticket.requester] if ticket.requester_id else []
    people += list(ticket.watchers.filter(is_active=True))
    return [p for p in people if p is not None]


def _tell_followers(ticket: Ticket, actor: User | None, title: StoredText) -> None:
    """A public change of the ticket: its requester and watchers are told (kind ticket_status)."""
    _tell(
        _followers(ticket),
        kind=kinds.TICKET_STATUS,
        ticket=ticket,
        actor=actor,
        title=title,
        body=ticket.subject,
    )


def _supervisors() -> list[User]:
    return list(User.objects.filter(role=User.Role.SUPERVISOR, is_active=True))


def _agents_for(ticket: Ticket) -> list[User]:
    if ticket.category_id:
        linked = list(assignment.category_agents(ticket))
        if linked:
            return linked
    return list(User.objects.filter(role__in=(User.Role.AGENT, User.Role.SUPERVISOR), is_active=True))


def _require_agent(actor: User) -> None:
    if not is_agent(actor):
        raise TicketError(_("Solo el equipo de soporte puede hacer esto."))


def _require_visible(ticket: Ticket, actor: User) -> None:
    if not can_see_franchise(actor, ticket.franchise_id):
        raise TicketError(_("Ticket no encontrado."))


def _locked(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update().get(pk=pk)


def _status_label(status: str) -> str:
    return str(Status(status).label)


def _store_attachments(
    ticket: Ticket, uploads: Iterable[UploadedFile], actor: User, comment: Comment | None = None
) -> list[Attachment]:
    saved = []
    for upload in uploads:
        ext = extension_of(upload.name)
        attachment = Attachment(
            ticket=ticket,
            comment=comment,
            uploaded_by=actor,
            original_name=safe_display_name(upload.name),
            content_type=SERVE_AS[ext],
            size=upload.size,
        )
        upload.seek(0)
        attachment.file.save(storage_name(upload.name), upload, save=False)
        attachment.save()
        saved.append(attachment)
    return saved


def _check_text(value: str, *, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: _("Este campo es obligatorio.")})
    if not has_visible_text(value):
        raise ValidationError({field: INVISIBLE_MESSAGE})
    if len(value) > max_length:
        raise ValidationError({field: _("Como máximo %(n)d caracteres.") % {"n": max_length}})
    return value


# --- create ------------------------------------------------------------------


def create_ticket(
    *,
    actor: User,
    subject: str,
    description: str,
    franchise: Franchise | None = None,
    requester: User | None = None,
    category: Category | None = None,
    priority: str = "normal",
    source: str = "web",
    attachments: Iterable[UploadedFile] = (),
    follow_up_of: Ticket | None = None,
    custom_values: Mapping[str, object] | None = None,
) -> Ticket:
    """Open a ticket: a franchisee for their franchise, or an agent on a franchise's behalf.

    `follow_up_of` links the new ticket to a closed one of the same franchise it continues.
    `custom_values` (field key → value) fill the category's custom fields; the required ones are
    enforced for web/API tickets (a chat or an e-mail cannot ask for them).
    Raises ValidationError on bad input (nothing is stored), TicketError if not allowed.
    """
    subject = _check_text(subject, field="subject", max_length=SUBJECT_MAX)
    description = _check_text(description, field="description", max_length=DESCRIPTION_MAX)
    if priority not in Priority.values:
        raise ValidationError({"priority": _("Prioridad no válida.")})
    if source not in Source.values:
        raise ValidationError({"source": _("Origen no válido.")})
    if category is not None and not category.active:
        raise ValidationError({"category": _("Categoría no válida.")})
    typed_values = cf.validate(category, custom_values or {}, enforce_required=source == Source.WEB)
    uploads = list(attachments)
    validate_uploads(uploads)
    if is_franchisee(actor):
        franchise, requester = actor.franchise, actor
    elif is_agent(actor):
        if franchise is None:
            raise ValidationError({"franchise": _("Indica la franquicia del ticket.")})
        if requester is not None and requester.franchise_id != franchise.pk:
            raise ValidationError({"requester": _("El solicitante no pertenece a esa franquicia.")})
    else:
        raise TicketError(_("No puedes abrir tickets."))
    if follow_up_of is not None and (follow_up_of.franchise_id != franchise.pk or follow_up_of.status != Status.CLOSED):
        raise TicketError(_("Solo se da seguimiento a un ticket cerrado de la misma franquicia."))
    if source != Source.CHAT:  # a chat becomes a ticket once; every other entry point is limited
        throttle.enforce(
            f"ticket.create:{actor.pk}",
            "TICKET_CREATE_RATE",
            _("Has abierto demasiados tickets en poco tiempo: espera unos minutos y vuelve a enviarlo."),
        )

    with audit.default("chat" if source == Source.CHAT else "system"), transaction.atomic():
        now = timezone.now()
        ticket = Ticket(
            franchise=franchise,
            requester=requester,
            subject=subject,
            description=description,
            category=category,
            priority=priority,
            source=source,
            follow_up_of=follow_up_of,
            created_at=now,  # the SLA counts from it: one INSERT, due dates aligned with it exactly
        )
        sla.apply_policy(ticket, now)
        # Chosen before the INSERT (it reads only the category's agents and their loads), so the
        # row is written once, already assigned.
        ticket.assignee = assignment.pick_assignee(ticket)
        ticket._members_checked = True  # the requester is the franchisee, or was checked above
        ticket.save()
        if requester is not None:
            # Not watchers.add(): its m2m check (a watcher of another franchise) cannot fail for
            # the requester, checked above, and would cost two more queries.
            Ticket.watchers.through.objects.create(ticket=ticket, user=requester)
        _store_new_custom_values(ticket, typed_values)
        lines = [(actor, Event.Kind.CREATED, "", ticket.status)]
        if follow_up_of is not None:
            lines.append((actor, Event.Kind.FOLLOW_UP, follow_up_of.number, ticket.number))
        saved = _store_attachments(ticket, uploads, actor)
        lines += [(actor, Event.Kind.ATTACHMENT, "", attachment.original_name) for attachment in saved]
        if ticket.assignee is not None:
            lines.append((None, Event.Kind.ASSIGNED, "", ticket.assignee.display_name))
        _events(ticket, lines)
        if follow_up_of is not None:
            _event(follow_up_of, actor, Event.Kind.FOLLOW_UP, old=follow_up_of.number, new=ticket.number)
        search.refresh([ticket.pk])

        assignee = ticket.assignee
        if assignee is not None:
            _tell(  # assigned by the system: the requester who opened it is told too (its only follower yet)
                [requester],
                kind=kinds.TICKET_STATUS,
                ticket=ticket,
                title=stored("%(who)s atiende tu ticket %(n)s", who=assignee.display_name, n=ticket.number),
            )
            _tell(
                [assignee],
                kind=kinds.TICKET_ASSIGNED,
                ticket=ticket,
                title=stored("Te han asignado %(n)s: %(s)s", n=ticket.number, s=ticket.subject),
            )
        else:
            _tell(
                _agents_for(ticket),
                kind=kinds.TICKET_NEW,
                ticket=ticket,
                actor=actor,
                title=stored("Nuevo ticket %(n)s: %(s)s", n=ticket.number, s=ticket.subject),
                body=franchise.name,
            )
        if requester is not None and requester.pk != actor.pk:
            _tell(
                [requester],
                kind=kinds.TICKET_STATUS,
                ticket=ticket,
                actor=actor,
                title=stored("Soporte ha abierto el ticket %(n)s para ti: %(s)s", n=ticket.number, s=ticket.subject),
            )
    return ticket


def sla_fields() -> list[str]:
    return [
        "first_response_due",
        "resolution_due",
        "first_response_risk_at",
        "resolution_risk_at",
        "sla_state",
        "sla_paused_at",
        "sla_paused_seconds",
        "updated_at",
    ]


# --- comments ----------------------------------------------------------------


def follow_up(
    *,
    ticket: Ticket,
    actor: User,
    body: str,
    attachments: Iterable[UploadedFile] = (),
    subject: str = "",
    source: str = "web",
) -> Ticket:
    """A public reply to a closed ticket: a new ticket of the same franchise and requester that
    continues it (`follow_up_of`, a `follow_up` event on both), the reply as its description and
    the closed ticket's subject unless one is given — what the ticket page's reply form and an
    e-mail reply (its own subject, `source="email"`) do once a ticket is closed."""
    _require_visible(ticket, actor)
    if ticket.status != Status.CLOSED:
        raise TicketError(_("Solo se da seguimiento a un ticket cerrado de la misma franquicia."))
    agent = is_agent(actor)
    return create_ticket(
        actor=actor,
        subject=subject or ticket.subject,
        description=body,
        franchise=ticket.franchise if agent else None,
        requester=ticket.requester if agent else None,
        source=source,
        attachments=attachments,
        follow_up_of=ticket,
    )


def add_comment(
    *,
    ticket: Ticket,
    actor: User,
    body: str,
    internal: bool = False,
    attachments: Iterable[UploadedFile] = (),
    time_spent_minutes: int | None = None,
) -> Comment:
    """A public reply or (agents only) an internal note, with optional files.

    An agent's first public reply is the first response; a franchisee's reply to a ticket
    pending on them, or resolved within TICKETS_REOPEN_DAYS, reopens it (and restarts the SLA
    clock); a later reply stays on the resolved ticket, which then closes by itself.
    `time_spent_minutes` (agents, 1–TIME_SPENT_MAX) is recorded on the reply and added to the
    ticket's total.
    """
    _require_visible(ticket, actor)
    internal = bool(internal) and is_agent(actor)
    body = _check_text(body, field="body", max_length=COMMENT_MAX)
    minutes = check_time_spent(time_spent_minutes, actor)
    uploads = list(attachments)
    validate_uploads(uploads)
    throttle.enforce(
        f"comment.create:{actor.pk}",
        "COMMENT_CREATE_RATE",
        _("Has enviado demasiadas respuestas en poco tiempo: espera un momento y vuelve a enviarla."),
    )
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.status == Status.CLOSED and not internal:
            raise TicketError(_("El ticket está cerrado: abre uno nuevo si el problema persiste."))
        comment = Comment.objects.create(
            ticket=ticket, author=actor, body=body, internal=internal, time_spent_minutes=minutes
        )
        _event(ticket, actor, Event.Kind.NOTE if internal else Event.Kind.COMMENTED, comment=comment, internal=internal)
        _store_attachments(ticket, uploads, actor, comment)
        search.refresh([ticket.pk])
        now = timezone.now()
        fields = ["updated_at"]
        if minutes:
            ticket.time_spent_minutes += minutes
            fields.append("time_spent_minutes")
        if is_agent(actor) and not internal:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                ticket.first_response_seconds = sla.elapsed(ticket, now)
                fields += ["first_response_at", "first_response_seconds"]
            if ticket.status == Status.NEW:
                _transition(ticket, actor, Status.OPEN, now, fields)
        elif is_franchisee(actor) and (
            ticket.status == Status.PENDING or (ticket.status == Status.RESOLVED and can_reopen(ticket, actor, now))
        ):
            # a reply to a ticket pending on them, or to a resolution within the reopen window:
            # the problem is not solved, so the ticket is worked again instead of closing by itself
            _transition(ticket, actor, Status.OPEN, now, fields)
        ticket.save(update_fields=sorted(set(fields)))

        if internal:
            _tell(
                [ticket.assignee] if ticket.assignee_id else [],
                kind=kinds.TICKET_COMMENT,
                ticket=ticket,
                actor=actor,
                internal=True,
                title=stored("Nota interna en %(n)s", n=ticket.number),
                body=body[:300],
            )
        else:
            recipients = _followers(ticket)
            if ticket.assignee_id:
                recipients.append(ticket.assignee)
            _tell(
                recipients,
                kind=kinds.TICKET_COMMENT,
                ticket=ticket,
                actor=actor,
                title=stored("Nueva respuesta en %(n)s: %(s)s", n=ticket.number, s=ticket.subject),
                body=body[:300],
            )
    return comment


def check_time_spent(value, actor: User) -> int | None:
    """Minutes recorded on a reply: agents only, a whole number from 1 to TIME_SPENT_MAX (empty/0: none)."""
    if value in (None, "", 0, "0"):
        return None
    if not is_agent(actor):
        raise ValidationError({"time_spent_minutes": _("Solo el equipo de soporte registra tiempo dedicado.")})
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = -1
    if not 0 < minutes <= TIME_SPENT_MAX:
        raise ValidationError(
            {"time_spent_minutes": _("El tiempo dedicado va de 1 a %(n)d minutos.") % {"n": TIME_SPENT_MAX}}
        )
    return minutes


# --- status ------------------------------------------------------------------


def _transition(ticket: Ticket, actor: User | None, new: str, now: datetime, fields: list[str]) -> None:
    """Apply one state-machine step to a locked ticket (the caller saves `fields`)."""
    old = ticket.status
    if not ticket.can_transition_to(new):
        raise TicketError(
            _("No se puede pasar un ticket de «%(old)s» a «%(new)s».")
            % {"old": _status_label(old), "new": _status_label(new)}
        )
    if old == Status.PENDING:
        sla.resume(ticket, now)
    if new == Status.PENDING:
        sla.pause(ticket, now)
    if new == Status.RESOLVED:
        ticket.resolved_at = now
        ticket.resolution_seconds = sla.elapsed(ticket, now)
    if new == Status.CLOSED:
        ticket.closed_at = now
    if old == Status.RESOLVED and new == Status.OPEN:
        ticket.resolved_at = None
        ticket.resolution_seconds = None
        ticket.rating = None
        ticket.rating_comment = ""
        ticket.rated_at = None
    ticket.status = new
    fields += [
        *sla_fields(),
        *("status", "resolved_at", "resolution_seconds", "closed_at", "rating", "rating_comment", "rated_at"),
    ]
    _event(ticket, actor, Event.Kind.STATUS, old=old, new=new)
    _tell(
        _followers(ticket),
        kind=kinds.TICKET_STATUS,
        ticket=ticket,
        actor=actor,
        title=stored("%(n)s ahora está «%(st)s»", n=ticket.number, st=choice(Status(new))),
        body=ticket.subject,
    )


def change_status(*, ticket: Ticket, actor: User, status: str) -> Ticket:
    """Move a ticket through the state machine (agents). Invalid transitions change nothing."""
    _require_agent(actor)
    if status not in Status.values:
        raise TicketError(_("Estado no válido."))
    with transaction.atomic():
        ticket = _locked(ticket)
        fields: list[str] = ["updated_at"]
        _transition(ticket, actor, status, timezone.now(), fields)
        ticket.save(update_fields=sorted(set(fields)))
    return ticket


def resolve(*, ticket: Ticket, actor: User) -> Ticket:
    return change_status(ticket=ticket, actor=actor, status=Status.RESOLVED)


def close(*, ticket: Ticket, actor: User) -> Ticket:
    return change_status(ticket=ticket, actor=actor, status=Status.CLOSED)


def reopen_deadline(ticket: Ticket) -> datetime | None:
    if ticket.resolved_at is None:
        return None
    return ticket.resolved_at + timedelta(days=settings.TICKETS_REOPEN_DAYS)


def can_reopen(ticket: Ticket, actor: User, now: datetime | None = None) -> bool:
    if ticket.status != Status.RESOLVED or not can_see_franchise(actor, ticket.franchise_id):
        return False
    if is_agent(actor):
        return True
    deadline = reopen_deadline(ticket)
    return deadline is not None and (now or timezone.now()) <= deadline


def reopen(*, ticket: Ticket, actor: User, reason: str = "") -> Ticket:
    """Resolved → open: the franchisee within TICKETS_REOPEN_DAYS of the resolution, agents any time."""
    _require_visible(ticket, actor)
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.status != Status.RESOLVED:
            raise TicketError(_("Solo se puede reabrir un ticket resuelto."))
        if not can_reopen(ticket, actor):
            raise TicketError(
                _("El plazo para reabrir este ticket (%(d)d días) ha terminado: abre uno nuevo.")
                % {"d": settings.TICKETS_REOPEN_DAYS}
            )
        fields: list[str] = ["updated_at"]
        _transition(ticket, actor, Status.OPEN, timezone.now(), fields)
        ticket.save(update_fields=sorted(set(fields)))
        if ticket.assignee_id:
            _tell(
                [ticket.assignee],
                kind=kinds.TICKET_STATUS,
                ticket=ticket,
                actor=actor,
                title=stored("%(n)s ha sido reabierto", n=ticket.number),
                body=reason[:300],
            )
    if reason.strip():
        add_comment(ticket=ticket, actor=actor, body=reason)
        ticket.refresh_from_db()
    return ticket


def auto_close_resolved(now: datetime | None = None) -> int:
    """Close tickets resolved more than TICKETS_AUTO_CLOSE_DAYS ago. Returns how many were closed."""
    now = now or timezone.now()
    limit = now - timedelta(days=settings.TICKETS_AUTO_CLOSE_DAYS)
    ids = list(Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=limit).values_list("pk", flat=True))
    closed = 0
    for pk in ids:
        with transaction.atomic():
            ticket = _locked(pk)
            if ticket.status != Status.RESOLVED or ticket.resolved_at >= limit:
                continue
            fields: list[str] = ["updated_at"]
            _transition(ticket, None, Status.CLOSED, now, fields)
            ticket.save(update_fields=sorted(set(fields)))
            closed += 1
    return closed


# --- priority and category ----------------------------------------------------


def change_priority(*, ticket: Ticket, actor: User, priority: str) -> Ticket:
    """New priority: the due dates are recomputed from the creation time with the new policy."""
    _require_agent(actor)
    if priority not in Priority.values:
        raise TicketError(_("Prioridad no válida."))
    with transaction.atomic():
        ticket = _locked(ticket)
        old = ticket.priority
        if old == priority:
            return ticket
        ticket.priority = priority
        sla.apply_policy(ticket, ticket.created_at)
        ticket.save(update_fields=[*sla_fields(), "priority"])
        _event(ticket, actor, Event.Kind.PRIORITY, old=old, new=priority)
        _tell_followers(
            ticket,
            actor,
            stored("Prioridad de %(n)s: %(p)s", n=ticket.number, p=choice(Priority(priority))),
        )
    return ticket


def change_category(*, ticket: Ticket, actor: User, category: Category | None) -> Ticket:
    _require_agent(actor)
    with transaction.atomic():
        ticket = _locked(ticket)
        old = ticket.category
        if (old.pk if old else None) == (category.pk if category else None):
            return ticket
        ticket.category = category
        ticket.save(update_fields=["category", "updated_at"])
        _event(ticket, actor, Event.Kind.CATEGORY, old=old.name if old else "", new=category.name if category else "")
        _tell_followers(
            ticket,
            actor,
            stored(
                "Categoría de %(n)s: %(c)s",
                n=ticket.number,
                c=names(category.name, category.name_en) if category else "—",
            ),
        )
    return ticket


# --- assignment ---------------------------------------------------------------


def claim(*, ticket: Ticket, actor: User) -> Ticket:
    """An agent takes an unassigned ticket. Atomic: of two simultaneous claims exactly one wins."""
    _require_agent(actor)
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.assignee_id == actor.pk:
            return ticket
        if ticket.assignee_id is not None:
            raise TicketError(
                _("%(who)s ya ha tomado el ticket %(n)s.") % {"who": ticket.assignee.display_name, "n": ticket.number}
            )
        if not ticket.is_active:
            raise TicketError(_("Este ticket ya no está activo."))
        ticket.assignee = actor
        fields = ["assignee", "updated_at"]
        _event(ticket, actor, Event.Kind.ASSIGNED, new=actor.display_name)
        _tell_followers(
            ticket,
            actor,
            stored("%(who)s atiende tu ticket %(n)s", who=actor.display_name, n=ticket.number),
        )
        if ticket.status == Status.NEW:
            _transition(ticket, actor, Status.OPEN, timezone.now(), fields)
        ticket.save(update_fields=sorted(set(fields)))
    return ticket


def check_assignment(*, ticket: Ticket, actor: User, assignee: User | None) -> None:
    """The assignment rule (pages, admin, API): raise TicketError unless `actor` may give the
    ticket to `assignee` (None: back to the queue). Taking it from another agent, or putting
    another agent's ticket back, is for supervisors (or that agent)."""
    _require_agent(actor)
    if assignee is not None and not is_agent(assignee):
        raise TicketError(_("Solo se puede asignar a un agente activo."))
    current = ticket.assignee
    if current is None or current.pk == actor.pk or is_supervisor(actor):
        pass
    elif assignee is None:
        raise TicketError(
            _("Solo %(who)s o un supervisor pueden devolverlo a la cola.") % {"who": current.display_name}
        )
    elif assignee.pk != current.pk:
        raise TicketError(
            _("%(who)s ya tiene el ticket %(n)s; solo un supervisor puede reasignarlo.")
            % {"who": current.display_name, "n": ticket.number}
        )
    if assignee is not None and current != assignee and not ticket.is_active:
        raise TicketError(_("Este ticket ya no está activo."))


def assign(*, ticket: Ticket, actor: User, assignee: User) -> Ticket:
    """Give a ticket to an agent. Taking it from another agent is for supervisors (or that agent)."""
    _require_agent(actor)
    if not is_agent(assignee):
        raise TicketError(_("Solo se puede asignar a un agente activo."))
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.assignee_id == assignee.pk:
            return ticket
        current = ticket.assignee
        check_assignment(ticket=ticket, actor=actor, assignee=assignee)
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        _event(
            ticket, actor, Event.Kind.ASSIGNED, old=current.display_name if current else "", new=assignee.display_name
        )
        _tell(
            [assignee],
            kind=kinds.TICKET_ASSIGNED,
            ticket=ticket,
            actor=actor,
            title=stored("Te han asignado %(n)s: %(s)s", n=ticket.number, s=ticket.subject),
        )
        _tell_followers(
            ticket,
            actor,
            stored("%(who)s atiende tu ticket %(n)s", who=assignee.display_name, n=ticket.number),
        )
    return ticket


def unassign(*, ticket: Ticket, actor: User) -> Ticket:
    """Put a ticket back in the queue: its assignee or a supervisor."""
    _require_agent(actor)
    with transaction.atomic():
        ticket = _locked(ticket)
        current = ticket.assignee
        if current is None:
            return ticket
        check_assignment(ticket=ticket, actor=actor, assignee=None)
        ticket.assignee = None
        ticket.save(update_fields=["assignee", "updated_at"])
        _event(ticket, actor, Event.Kind.ASSIGNED, old=current.display_name)
    return ticket


# --- watchers -------------------------------------------------------------------


def set_watchers(*, ticket: Ticket, actor: User, watchers: Iterable[User]) -> Ticket:
    """Replace who follows a ticket (agents): only its franchise's people and support staff
    (ValidationError otherwise, nothing changed); an internal timeline event names the changes."""
    _require_agent(actor)
    wanted = {user.pk: user for user in watchers}
    outsiders = watcher_outsiders(ticket.franchise_id, wanted)
    if outsiders:
        raise ValidationError(
            {
                "watchers": _("Solo siguen un ticket el equipo de soporte y su franquicia: %(names)s no.")
                % {"names": ", ".join(sorted(u.username for u in outsiders))}
            }
        )
    with transaction.atomic():
        ticket = _locked(ticket)
        current = {user.pk: user for user in ticket.watchers.all()}
        added = [wanted[pk] for pk in wanted.keys() - current.keys()]
        removed = [current[pk] for pk in current.keys() - wanted.keys()]
        if not (added or removed):
            return ticket
        ticket.watchers.remove(*removed)
        ticket.watchers.add(*added)
        _event(
            ticket,
            actor,
            Event.Kind.WATCHERS,
            old=", ".join(sorted(u.display_name for u in removed)),
            new=", ".join(sorted(u.display_name for u in added)),
            internal=True,
        )
        ticket.save(update_fields=["updated_at"])
    return ticket


# --- custom fields -------------------------------------------------------------


def _store_new_custom_values(ticket: Ticket, values: Mapping) -> None:
    """A new ticket's typed values (None: left empty) in one INSERT, whatever their number."""
    CustomValue.objects.bulk_create(
        [
            CustomValue(ticket=ticket, field=field, **{next(iter(cf.columns_for(field))): value})
            for field, value in values.items()
            if value is not None
        ]
    )


def _store_custom_values(ticket: Ticket, values: Mapping, stored: dict | None = None) -> list[tuple]:
    """Write typed values (None deletes); returns (field, old, new) for each real change."""
    stored = {} if stored is None else stored
    changes = []
    for field, value in values.items():
        row = stored.get(field.pk)
        old = row.value if row is not None else None
        if old == value:
            continue
        if value is None:
            CustomValue.objects.filter(pk=row.pk).delete()
        else:
            column = next(iter(cf.columns_for(field)))
            CustomValue.objects.update_or_create(ticket=ticket, field=field, defaults={column: value})
        changes.append((field, old, value))
    return changes


def set_custom_values(*, ticket: Ticket, actor: User, values: Mapping[str, object]) -> Ticket:
    """Agents change some custom fields of a ticket (field key → value; empty clears a field that
    is not required). All or nothing; a public timeline event per changed field."""
    _require_agent(actor)
    _require_visible(ticket, actor)
    typed = cf.validate(ticket.category, values, partial=True)
    with transaction.atomic():
        ticket = _locked(ticket)
        changes = _store_custom_values(ticket, typed, cf.stored_values(ticket))
        for field, old, new in changes:
            old_text, new_text = cf.display(field, old), cf.display(field, new)
            _event(
                ticket,
                actor,
                Event.Kind.CUSTOM_FIELD,
                old=f"{field.label}: {old_text}" if old_text else "",
                new=f"{field.label}: {new_text or '—'}",
            )
        if changes:
            ticket.save(update_fields=["updated_at"])
    return ticket


# --- saved views (the agent's /agent/ tabs) ---------------------------------------

SAVED_VIEWS_MAX = 30


def _view_name(name: str) -> str:
    return _check_text(name, field="name", max_length=60)


def _name_taken(owner: User, name: str, exclude: int | None = None) -> None:
    if SavedView.objects.filter(owner=owner, name__iexact=name).exclude(pk=exclude).exists():
        raise ValidationError({"name": _("Ya tienes una vista llamada «%(name)s».") % {"name": name}})


def save_view(*, actor: User, name: str, query: str = "", shared: bool = False) -> SavedView:
    """An agent saves the dashboard's filters (`query`, normalised) as a named tab, last in their order."""
    from tickets.selectors import filter_query  # a pure function of the parameters

    _require_agent(actor)
    name = _view_name(name)
    with transaction.atomic():
        owner = User.objects.select_for_update().get(pk=actor.pk)  # one position per agent at a time
        _name_taken(owner, name)
        mine = SavedView.objects.filter(owner=owner)
        if mine.count() >= SAVED_VIEWS_MAX:
            raise ValidationError({"name": _("Como máximo %(n)d vistas por agente.") % {"n": SAVED_VIEWS_MAX}})
        last = mine.order_by("-position").values_list("position", flat=True).first()
        from django.http import QueryDict

        return SavedView.objects.create(
            owner=owner,
            name=name,
            shared=bool(shared),
            query=filter_query(QueryDict(query or "")),
            position=0 if last is None else last + 1,
        )


def update_view(*, view: SavedView, actor: User, name: str, shared: bool) -> SavedView:
    """Rename or (un)share one's own view."""
    if view.owner_id != actor.pk:
        raise TicketError(_("Solo quien creó la vista puede cambiarla."))
    name = _view_name(name)
    with transaction.atomic():
        _name_taken(actor, name, exclude=view.pk)
        view.name, view.shared = name, bool(shared)
        view.save(update_fields=["name", "shared", "updated_at"])
    return view


def delete_view(*, view: SavedView, actor: User) -> None:
    if view.owner_id != actor.pk:
        raise TicketError(_("Solo quien creó la vista puede borrarla."))
    view.delete()


def move_view(*, view: SavedView, actor: User, up: bool) -> None:
    """Swap a view with its neighbour in its owner's order (positions renumbered 0..n-1)."""
    if view.owner_id != actor.pk:
        raise TicketError(_("Solo quien creó la vista puede ordenarla."))
    with transaction.atomic():
        views = list(SavedView.objects.select_for_update().filter(owner_id=actor.pk).order_by("position", "id"))
        index = next(i for i, v in enumerate(views) if v.pk == view.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(views):
            views[index], views[other] = views[other], views[index]
        for position, item in enumerate(views):
            if item.position != position:
                SavedView.objects.filter(pk=item.pk).update(position=position)


# --- tags ----------------------------------------------------------------------


def set_tags(*, ticket: Ticket, actor: User, tags: Iterable[str] | str) -> Ticket:
    """Replace a ticket's tags (agents). Names are normalised (`parse_tags`); unknown ones are
    created. One internal timeline event names what was added and removed; no change, no event."""
    _require_agent(actor)
    _require_visible(ticket, actor)
    wanted = parse_tags(tags)
    check_count(wanted)
    with transaction.atomic():
        ticket = _locked(ticket)
        current = set(ticket.tags.values_list("name", flat=True))
        added = [name for name in wanted if name not in current]
        removed = sorted(current - set(wanted))
        if not (added or removed):
            return ticket
        if added:
            Tag.objects.bulk_create([Tag(name=name) for name in added], ignore_conflicts=True)
            ticket.tags.add(*Tag.objects.filter(name__in=added))
        if removed:
            ticket.tags.remove(*Tag.objects.filter(name__in=removed))
        _event(ticket, actor, Event.Kind.TAGS, old=", ".join(removed), new=", ".join(sorted(added)), internal=True)
        ticket.save(update_fields=["updated_at"])
    return ticket


def add_tags(*, ticket: Ticket, actor: User, tags: Iterable[str] | str) -> Ticket:
    """Add tags to those the ticket has (the ticket page's "add" box)."""
    current = list(ticket.tags.values_list("name", flat=True))
    return set_tags(ticket=ticket, actor=actor, tags=[*current, *parse_tags(tags)])


def remove_tag(*, ticket: Ticket, actor: User, tag: str) -> Ticket:
    """Take one tag off the ticket."""
    name = parse_tags([tag])
    current = list(ticket.tags.values_list("name", flat=True))
    return set_tags(ticket=ticket, actor=actor, tags=[t for t in current if t not in name])


# --- followers (the ticket page) ------------------------------------------------------


def follower_candidates(ticket: Ticket, actor: User, *, include_followers: bool = False):
    """Who `actor` may add as a follower of `ticket`: active colleagues of its franchise (the
    requester and agents), and other support staff (agents only); never someone of another franchise.
    Those who already follow it are left out unless `include_followers`."""
    if not can_add_followers(ticket, actor):
        return User.objects.none()
    allowed = Q(franchise_id=ticket.franchise_id, role=User.Role.FRANCHISEE)
    if is_agent(actor):
        allowed |= Q(role__in=(User.Role.AGENT, User.Role.SUPERVISOR))
    users = User.objects.filter(allowed, is_active=True)
    if not include_followers:
        users = users.exclude(watched_tickets=ticket)
    return users.order_by("username")


def can_add_followers(ticket: Ticket, actor: User) -> bool:
    if not can_see_franchise(actor, ticket.franchise_id):
        return False
    return is_agent(actor) or (is_franchisee(actor) and ticket.requester_id == actor.pk)


def can_remove_follower(ticket: Ticket, actor: User, follower: User) -> bool:
    """Agents and the requester remove anyone; every follower may stop following."""
    return can_add_followers(ticket, actor) or (
        follower.pk == actor.pk and can_see_franchise(actor, ticket.franchise_id)
    )


def add_follower(*, ticket: Ticket, actor: User, follower: User) -> Ticket:
    """The requester adds a colleague of the franchise; agents also add support staff.

    Someone of another franchise (or staff, added by a franchisee) is a ValidationError; the
    follower is told and receives the ticket's public updates from now on (never internal notes).
    """
    _require_visible(ticket, actor)
    if not can_add_followers(ticket, actor):
        raise TicketError(_("Solo el solicitante y el equipo de soporte añaden seguidores."))
    if not follower_candidates(ticket, actor, include_followers=True).filter(pk=follower.pk).exists():
        raise ValidationError({"follower": _("Esa persona no puede seguir este ticket.")})
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.watchers.filter(pk=follower.pk).exists():
            return ticket
        ticket.watchers.add(follower)  # the m2m guard refuses another franchise's user, whatever the caller
        staff = is_agent(follower)
        _event(ticket, actor, Event.Kind.WATCHERS, new=follower.display_name, internal=staff)
        ticket.save(update_fields=["updated_at"])
        if follower.pk != actor.pk:
            _tell(
                [follower],
                kind=kinds.TICKET_STATUS,
                ticket=ticket,
                actor=actor,
                title=stored("%(who)s te ha añadido como seguidor de %(n)s", who=actor.display_name, n=ticket.number),
                body=ticket.subject,
            )
    return ticket


def remove_follower(*, ticket: Ticket, actor: User, follower: User) -> Ticket:
    """Stop `follower` following the ticket (agents, the requester, or the follower themselves)."""
    _require_visible(ticket, actor)
    if not can_remove_follower(ticket, actor, follower):
        raise TicketError(_("No puedes quitar a ese seguidor."))
    with transaction.atomic():
        ticket = _locked(ticket)
        if not ticket.watchers.filter(pk=follower.pk).exists():
            return ticket
        ticket.watchers.remove(follower)
        _event(ticket, actor, Event.Kind.WATCHERS, old=follower.display_name, internal=is_agent(follower))
        ticket.save(update_fields=["updated_at"])
    return ticket


# --- links ------------------------------------------------------------------------


def _link_code(kind: str, other: Ticket, *, reverse: bool = False) -> str:
    """Stored in the event as `kind:T-000123` (`~kind` read from the target), shown translated."""
    return f"{'~' if reverse else ''}{kind}:{other.number}"


def link_tickets(*, ticket: Ticket, actor: User, kind: str, other: Ticket) -> TicketLink:
    """Agents: `ticket` duplicates / blocks / is related to `other` (shown on both tickets).

    A timeline event on each side; internal when the tickets are of different franchises, so a
    franchisee never reads the number of another franchise's ticket.
    """
    _require_agent(actor)
    if kind not in TicketLink.Kind.values:
        raise ValidationError({"kind": _("Tipo de vínculo no válido.")})
    if ticket.pk == other.pk:
        raise TicketError(_("Un ticket no se vincula consigo mismo."))
    source, target = (ticket, other)
    if kind == TicketLink.Kind.RELATED and source.pk > target.pk:
        source, target = target, source  # symmetric: stored once
    with transaction.atomic():
        first, second = sorted([source.pk, target.pk])
        locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
        source, target = locked[source.pk], locked[target.pk]
        if TicketLink.objects.filter(source=source, target=target, kind=kind).exists():
            raise TicketError(_("Esos tickets ya están vinculados así."))
        if kind != TicketLink.Kind.RELATED and TicketLink.objects.filter(source=target, target=source, kind=kind):
            raise TicketError(_("El otro ticket ya está vinculado así con este: el vínculo sería circular."))
        link = TicketLink.objects.create(source=source, target=target, kind=kind, created_by=actor)
        internal = source.franchise_id != target.franchise_id
        _event(source, actor, Event.Kind.LINKED, new=_link_code(kind, target), internal=internal)
        _event(target, actor, Event.Kind.LINKED, new=_link_code(kind, source, reverse=True), internal=internal)
        for side in (source, target):
            side.save(update_fields=["updated_at"])
    return link


def unlink_tickets(*, link: TicketLink, actor: User) -> None:
    """Agents remove a link; an event on both tickets."""
    _require_agent(actor)
    with transaction.atomic():
        link = TicketLink.objects.select_related("source", "target").select_for_update(of=("self",)).get(pk=link.pk)
        source, target, kind = link.source, link.target, link.kind
        link.delete()
        internal = source.franchise_id != target.franchise_id
        _event(source, actor, Event.Kind.UNLINKED, old=_link_code(kind, target), internal=internal)
        _event(target, actor, Event.Kind.UNLINKED, old=_link_code(kind, source, reverse=True), internal=internal)


# --- satisfaction -------------------------------------------------------------


def rate(*, ticket: Ticket, actor: User, rating: int, comment: str = "") -> Ticket:
    """CSAT: a franchisee of the ticket's franchise rates a resolved or closed ticket 1–5."""
    _require_visible(ticket, actor)
    if not is_franchisee(actor):
        raise TicketError(_("La valoración la da el franquiciado."))
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": _("La valoración va de 1 a 5.")})
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError({"comment": _("Como máximo %(n)d caracteres.") % {"n": 2000}})
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.status not in (Status.RESOLVED, Status.CLOSED) or ticket.resolved_at is None:
            raise TicketError(_("Solo se valora un ticket resuelto."))
        old = ticket.rating
        ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, timezone.now()
        ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        _event(ticket, actor, Event.Kind.RATED, old=old or "", new=rating)
        if ticket.assignee_id:
            _tell(
                [ticket.assignee],
                kind=kinds.TICKET_STATUS,
                ticket=ticket,
                actor=actor,
                title=stored("%(n)s valorado con %(r)d/5", n=ticket.number, r=rating),
                body=comment[:300],
            )
    return ticket


# --- merge and bulk -----------------------------------------------------------


def merge(*, source: Ticket, target: Ticket, actor: User) -> Ticket:
    """Merge a duplicate into another ticket of the same franchise.

    Comments, attachments and watchers move to the target; the duplicate is closed pointing
    to it. Returns the target.
    """
    _require_agent(actor)
    if source.pk == target.pk:
        raise TicketError(_("Un ticket no se puede fusionar consigo mismo."))
    with transaction.atomic():
        first, second = sorted([source.pk, target.pk])
        locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
        source, target = locked[source.pk], locked[target.pk]
        if source.franchise_id != target.franchise_id:
            raise TicketError(_("Solo se fusionan tickets de la misma franquicia."))
        if source.status == Status.CLOSED:
            raise TicketError(_("El ticket duplicado ya está cerrado."))
        if target.status == Status.CLOSED:
            raise TicketError(_("No se puede fusionar en un ticket cerrado."))
        Comment.objects.filter(ticket=source).update(ticket=target)
        target.time_spent_minutes += source.time_spent_minutes  # the moved replies' minutes
        source.time_spent_minutes = 0
        Attachment.objects.filter(ticket=source).update(ticket=target)
        Event.objects.filter(ticket=source, comment__isnull=False).update(ticket=target)
        watchers = set(source.watchers.values_list("pk", flat=True))
        if source.requester_id:
            watchers.add(source.requester_id)
        target.watchers.add(*watchers)
        note_text = stored(
            "Fusionado desde %(n)s: %(s)s\n\n%(d)s", n=source.number, s=source.subject, d=source.description
        )
        note = Comment.objects.create(
            ticket=target,
            author=actor,
            body=render(note_text, settings.LANGUAGE_CODE)[:COMMENT_MAX],
            body_text=note_text,
        )
        _event(target, actor, Event.Kind.MERGED, old=source.number, new=target.number, comment=note)
        search.refresh([source.pk, target.pk])
        _event(source, actor, Event.Kind.MERGED, old=source.number, new=target.number)
        _tell_followers(
            source,
            actor,
            stored("%(a)s se ha unido a %(b)s: seguimos allí", a=source.number, b=target.number),
        )
        source.merged_into = target
        fields = ["merged_into", "time_spent_minutes", "updated_at"]
        _transition(source, actor, Status.CLOSED, timezone.now(), fields)
        source.save(update_fields=sorted(set(fields)))
        target.save(update_fields=["time_spent_minutes", "updated_at"])
    return target


def bulk_update(
    *, actor: User, ticket_ids: Iterable[int], action: str, assignee: User | None = None, status: str = ""
) -> tuple[int, list[str]]:
    """Apply assign / unassign / status to many tickets; each one on its own. Returns (done, errors)."""
    _require_agent(actor)
    done, errors = 0, []
    tickets = Ticket.objects.filter(pk__in=list(ticket_ids)).order_by("pk")
    for ticket in tickets:
        try:
            if action == "assign" and assignee is not None:
                assign(ticket=ticket, actor=actor, assignee=assignee)
            elif action == "claim":
                claim(ticket=ticket, actor=actor)
            elif action == "unassign":
                unassign(ticket=ticket, actor=actor)
            elif action == "status" and status:
                change_status(ticket=ticket, actor=actor, status=status)
            else:
                raise TicketError(_("Acción no válida."))
            done += 1
        except TicketError as exc:
            errors.append(f"{ticket.number}: {exc}")
    return done, errors


# --- SLA escalation -------------------------------------------------------------


def escalate_sla(now: datetime | None = None) -> dict[str, int]:
    """Mark active tickets at risk or breached, once each (idempotent); timeline + notifications."""
    now = now or timezone.now()
    counts = {SlaState.AT_RISK: 0, SlaState.BREACHED: 0}
    watched = Ticket.objects.filter(status__in=ACTIVE_STATUSES, sla_paused_at__isnull=True).exclude(
        sla_state=SlaState.BREACHED
    )
    candidates = watched.filter(first_response_risk_at__lt=now, first_response_at__isnull=True) | watched.filter(
        resolution_risk_at__lt=now
    )
    for pk in list(candidates.values_list("pk", flat=True)):
        with transaction.atomic():
            ticket = _locked(pk)
            if not ticket.is_active or ticket.sla_paused_at is not None:
                continue
            state = sla.state_at(ticket, now)
            order = [SlaState.OK, SlaState.AT_RISK, SlaState.BREACHED]
            if order.index(state) <= order.index(ticket.sla_state):
                continue
            old = ticket.sla_state
            ticket.sla_state = state
            ticket.save(update_fields=["sla_state", "updated_at"])
            kind = Event.Kind.SLA_BREACHED if state == SlaState.BREACHED else Event.Kind.SLA_AT_RISK
            _event(ticket, None, kind, old=old, new=state, internal=True)
            if state == SlaState.BREACHED:
                notify_kind = kinds.SLA_BREACHED
                title = stored("SLA incumplido en %(n)s: %(s)s", n=ticket.number, s=ticket.subject)
            else:
                notify_kind = kinds.SLA_AT_RISK
                title = stored("SLA en riesgo en %(n)s: %(s)s", n=ticket.number, s=ticket.subject)
            _tell(
                [ticket.assignee, *_supervisors()],
                kind=notify_kind,
                ticket=ticket,
                internal=True,
                title=title,
            )
            counts[state] += 1
    return {"at_risk": counts[SlaState.AT_RISK], "breached": counts[SlaState.BREACHED]}
