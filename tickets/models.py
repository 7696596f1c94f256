"""Tickets, their comments, timeline events, attachments, categories and SLA policies."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from support_portal.stored_text import render

SUBJECT_MAX = 200
DESCRIPTION_MAX = 20_000
COMMENT_MAX = 20_000
#: Minutes one reply may record (a working day and a half): a typo of 6000 is refused.
TIME_SPENT_MAX = 12 * 60


class Priority(models.TextChoices):
    LOW = "low", _("Baja")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("Alta")
    URGENT = "urgent", _("Urgente")


class Status(models.TextChoices):
    NEW = "new", _("Nuevo")
    OPEN = "open", _("Abierto")
    PENDING = "pending", _("Pendiente del franquiciado")
    ON_HOLD = "on_hold", pgettext_lazy("ticket status", "En espera")  # a chat "En espera" is waiting
    RESOLVED = "resolved", _("Resuelto")
    CLOSED = "closed", _("Cerrado")


#: Statuses in which the ticket is still being worked (counted as load, watched by the SLA).
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)

#: The state machine: allowed target statuses from each status.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


class Source(models.TextChoices):
    WEB = "web", _("Web")
    CHAT = "chat", _("Chat")
    EMAIL = "email", _("Correo electrónico")


class SlaState(models.TextChoices):
    OK = "ok", _("En plazo")
    AT_RISK = "at_risk", _("En riesgo")
    BREACHED = "breached", _("Incumplido")


class SupportCalendar(models.Model):
    """When support works: weekly opening hours in a time zone, minus holidays.

    SLA clocks count only these hours (tickets/working_time.py). A category's calendar wins over
    the priority's (SlaPolicy.calendar), which wins over the default calendar; with none, 24×7.
    Holidays come from the `holidays` library (national and, with a subdivision, regional) plus
    the calendar's own dates (local holidays, closures).
    """

    name = models.CharField(_("nombre"), max_length=100, unique=True)
    time_zone = models.CharField(_("zona horaria"), max_length=64, default="Europe/Madrid")
    holiday_country = models.CharField(
        _("país de los festivos"), max_length=2, blank=True, default="ES", help_text=_("Código ISO, p. ej. ES.")
    )
    holiday_subdivision = models.CharField(
        _("región de los festivos"),
        max_length=16,
        blank=True,
        help_text=_("Comunidad autónoma (p. ej. MD, CT, CN) para sumar sus festivos a los nacionales."),
    )
    is_default = models.BooleanField(_("calendario por defecto"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("calendario de soporte")
        verbose_name_plural = _("calendarios de soporte")
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from tickets.calendars import validate_calendar_fields

        validate_calendar_fields(self)


class CalendarHours(models.Model):
    """One opening interval of a weekday (several per day for a lunch break)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("lunes")
        TUESDAY = 1, _("martes")
        WEDNESDAY = 2, _("miércoles")
        THURSDAY = 3, _("jueves")
        FRIDAY = 4, _("viernes")
        SATURDAY = 5, _("sábado")
        SUNDAY = 6, _("domingo")

    calendar = models.ForeignKey(SupportCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("día"), choices=Weekday.choices)
    opens = models.TimeField(_("abre"))
    closes = models.TimeField(_("cierra"), help_text=_("00:00 significa medianoche al final del día."))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("horario")
        verbose_name_plural = _("horarios")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        midnight = self.closes is not None and self.closes.hour == 0 and self.closes.minute == 0
        if self.opens is not None and self.closes is not None and not midnight and self.closes <= self.opens:
            raise ValidationError({"closes": _("La hora de cierre debe ser posterior a la de apertura.")})


class CalendarHoliday(models.Model):
    """A date the calendar is closed besides the library's holidays (a local holiday, a closure)."""

    calendar = models.ForeignKey(SupportCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("fecha"))
    name = models.CharField(_("motivo"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("festivo propio")
        verbose_name_plural = _("festivos propios")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="one_holiday_per_calendar_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class Category(models.Model):
    name = models.CharField(_("nombre"), max_length=100)
    # Shown to English readers (empty: the Spanish name); `display_name` picks it per reader.
    name_en = models.CharField(_("nombre en inglés"), max_length=100, blank=True)
    slug = models.SlugField(_("identificador"), max_length=100, unique=True)
    active = models.BooleanField(_("activa"), default=True)
    agents = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agentes"),
        related_name="ticket_categories",
        blank=True,
        limit_choices_to={"role__in": ("agent", "supervisor")},
    )
    calendar = models.ForeignKey(
        SupportCalendar,
        verbose_name=_("calendario de soporte"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="categories",
        help_text=_("Horario en que corre el SLA de sus tickets (si no, el de la prioridad o el por defecto)."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("categoría de ticket")
        verbose_name_plural = _("categorías de ticket")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the active language (the Spanish one when there is no English name)."""
        english = (translation.get_language() or "").startswith("en")
        return self.name_en if english and self.name_en else self.name


class CustomField(models.Model):
    """A field supervisors add to the tickets of one category (tickets/custom_fields.py validates)."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Texto")
        NUMBER = "number", _("Número")
        CHOICE = "choice", _("Lista de opciones")
        DATE = "date", _("Fecha")

    category = models.ForeignKey(
        Category, verbose_name=_("categoría"), on_delete=models.CASCADE, related_name="custom_fields"
    )
    key = models.SlugField(_("identificador"), max_length=40, help_text=_("Nombre en la API y en el CSV."))
    label = models.CharField(_("etiqueta del campo"), max_length=100)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    options = models.TextField(
        _("opciones"), blank=True, max_length=5000, help_text=_("Una opción por línea (solo para listas).")
    )
    required = models.BooleanField(_("obligatorio"), default=False)
    help_text = models.CharField(_("ayuda"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("orden"), default=0)
    active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["category", "position", "id"]
        verbose_name = _("campo personalizado")
        verbose_name_plural = _("campos personalizados")
        constraints = [models.UniqueConstraint(fields=["category", "key"], name="custom_field_key_per_category")]

    def __str__(self) -> str:
        return f"{self.category} · {self.label}"

    @property
    def option_list(self) -> list[str]:
        return [line.strip() for line in self.options.splitlines() if line.strip()]

    def clean(self) -> None:
        if self.kind == self.Kind.CHOICE and not self.option_list:
            raise ValidationError({"options": _("Una lista necesita al menos una opción.")})


TAG_MAX = 50
#: Tags one ticket may carry (a label, not a note).
TAGS_PER_TICKET = 20


class Tag(models.Model):
    """A label agents put on tickets to group and find them (lowercase slug, e.g. `tpv-ingenico`)."""

    name = models.SlugField(_("etiqueta"), max_length=TAG_MAX, unique=True, allow_unicode=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("etiqueta")
        verbose_name_plural = _("etiquetas")

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets for one priority: minutes to first response and to resolution."""

    priority = models.CharField(_("prioridad"), max_length=10, choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField(_("primera respuesta (minutos)"))
    resolution_minutes = models.PositiveIntegerField(_("resolución (minutos)"))
    at_risk_percent = models.PositiveSmallIntegerField(
        _("en riesgo al consumir (%)"),
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("Porcentaje del plazo consumido a partir del cual el ticket se marca en riesgo."),
    )
    calendar = models.ForeignKey(
        SupportCalendar,
        verbose_name=_("calendario de soporte"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="policies",
        help_text=_("Vacío: el calendario por defecto (o 24×7 si no hay ninguno)."),
    )

    class Meta:
        ordering = ["priority"]
        verbose_name = _("política de SLA")
        verbose_name_plural = _("políticas de SLA")

    def __str__(self) -> str:
        return str(self.get_priority_display())

    @property
    def first_response(self) -> timedelta:
        return timedelta(minutes=self.first_response_minutes)

    @property
    def resolution(self) -> timedelta:
        return timedelta(minutes=self.resolution_minutes)


#: Used when no policy row exists for a priority (operators edit rows in the admin).
DEFAULT_SLA_MINUTES: dict[str, tuple[int, int]] = {
    Priority.URGENT: (30, 4 * 60),
    Priority.HIGH: (2 * 60, 8 * 60),
    Priority.NORMAL: (8 * 60, 3 * 24 * 60),
    Priority.LOW: (24 * 60, 7 * 24 * 60),
}


class Ticket(models.Model):
    franchise = models.ForeignKey(
        "accounts.Franchise", verbose_name=_("franquicia"), on_delete=models.PROTECT, related_name="tickets"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("solicitante"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requested_tickets",
    )
    subject = models.CharField(_("asunto"), max_length=SUBJECT_MAX)
    description = models.TextField(_("descripción"), max_length=DESCRIPTION_MAX)
    category = models.ForeignKey(
        Category, verbose_name=_("categoría"), on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    priority = models.CharField(_("prioridad"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asignado a"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    source = models.CharField(_("origen"), max_length=8, choices=Source.choices, default=Source.WEB)
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("seguidores"), related_name="watched_tickets", blank=True
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("etiquetas"), related_name="tickets", blank=True)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("fusionado en"), on_delete=models.SET_NULL, null=True, blank=True, related_name="merged"
    )
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("seguimiento de"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        help_text=_(
            "Ticket cerrado del que este es continuación (p. ej. una respuesta por correo a un ticket cerrado)."
        ),
    )

    # Not auto_now_add: services.create_ticket passes the instant its SLA due dates count from, so
    # the row is written once, dates aligned (anything else gets the time of its INSERT, as before).
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False, blank=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)
    first_response_due = models.DateTimeField(_("primera respuesta antes de"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolución antes de"), null=True, blank=True)
    first_response_risk_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_risk_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_paused_at = models.DateTimeField(_("SLA en pausa desde"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("segundos en pausa"), default=0, editable=False)
    # Working time (seconds, the SLA calendar's hours) from creation to the first response and to
    # resolution, stored when they happen: the dashboard's medians read them.
    first_response_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    resolution_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    sla_state = models.CharField(_("estado del SLA"), max_length=10, choices=SlaState.choices, default=SlaState.OK)
    first_response_at = models.DateTimeField(_("primera respuesta"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resuelto"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cerrado"), null=True, blank=True)

    rating = models.PositiveSmallIntegerField(
        _("valoración"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.TextField(_("comentario de la valoración"), max_length=2000, blank=True)
    rated_at = models.DateTimeField(_("valorado"), null=True, blank=True)
    # Sum of the agents' recorded minutes (Comment.time_spent_minutes), kept by the services.
    time_spent_minutes = models.PositiveIntegerField(_("tiempo dedicado (min)"), default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # franchisee list (their franchise, newest first, optional status)
            models.Index(fields=["franchise", "-created_at", "-id"], name="ticket_franchise_created"),
            models.Index(fields=["franchise", "status", "-created_at", "-id"], name="ticket_franchise_status"),
            # agent dashboard queues sorted by due date
            models.Index(fields=["status", "resolution_due"], name="ticket_status_due"),
            models.Index(fields=["assignee", "status", "resolution_due"], name="ticket_assignee_status_due"),
            models.Index(fields=["priority", "status"], name="ticket_priority_status"),
            models.Index(fields=["category", "status"], name="ticket_category_status"),
            models.Index(fields=["sla_state", "status"], name="ticket_sla_status"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            # team figures over the last days
            models.Index(fields=["resolved_at"], name="ticket_resolved_at"),
            models.Index(fields=["first_response_at"], name="ticket_first_response_at"),
            models.Index(fields=["rated_at"], name="ticket_rated_at"),
            # the dashboard queues, read in due-date order straight from these partial indexes
            models.Index(
                fields=["resolution_due", "id"],
                name="ticket_unassigned_due",
                condition=Q(assignee__isnull=True, status__in=["new", "open", "pending", "on_hold"]),
            ),
            models.Index(
                fields=["resolution_due", "id"],
                name="ticket_active_due",
                condition=Q(status__in=["new", "open", "pending", "on_hold"]),
            ),
            models.Index(
                fields=["assignee", "resolution_due", "id"],
                name="ticket_active_assignee_due",
                condition=Q(status__in=["new", "open", "pending", "on_hold"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="ticket_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        checked = update_fields is None or {"franchise", "requester"} & set(update_fields)
        # services.create_ticket sets `_members_checked` when it has just established that the
        # requester belongs to the franchise (the franchisee's own, or checked for an agent).
        if checked and not self.__dict__.pop("_members_checked", False) and (errors := self.member_errors()):
            raise ValidationError(errors)
        super().save(*args, **kwargs)
        self._stored_franchise_id = self.franchise_id

    def get_absolute_url(self) -> str:
        return reverse("tickets:detail", args=[self.pk])

    # --- invariants: whatever the entry point (services, admin, API, shell) ----------------------

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_franchise_id = instance.__dict__.get("franchise_id")
        return instance

    def member_errors(self) -> dict[str, str]:
        """The ticket stays in its franchise and its requester belongs to it."""
        errors = {}
        stored = getattr(self, "_stored_franchise_id", None)
        if self.pk and stored is not None and self.franchise_id != stored:
            errors["franchise"] = _("Un ticket no cambia de franquicia: abre uno nuevo en la otra.")
        if self.requester_id and self.franchise_id:
            from accounts.models import User

            if not User.objects.filter(pk=self.requester_id, franchise_id=self.franchise_id).exists():
                errors["requester"] = _("El solicitante debe pertenecer a la franquicia del ticket.")
        return errors

    def clean(self) -> None:
        super().clean()
        if errors := self.member_errors():
            raise ValidationError(errors)

    @property
    def number(self) -> str:
        """Human label, e.g. T-000042."""
        return f"T-{self.pk:06d}" if self.pk else "T-?"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def can_transition_to(self, status: str) -> bool:
        return status in TRANSITIONS.get(self.status, frozenset())

    def search_document(self, *, internal: bool = False) -> str:
        """The ticket's searchable text: subject, description, comments and attachment names.

        `internal=False` is what a franchisee may find (public comments, files not of internal
        notes); `internal=True` adds the internal notes and their files (agents). The same parts,
        weighted subject A, description B, the rest C, make the stored full-text documents of
        `TicketSearch` (tickets/search.py); reuse this for anything that compares tickets by text."""
        comments = self.comments.all() if internal else self.comments.filter(internal=False)
        files = self.attachments.all() if internal else self.attachments.exclude(comment__internal=True)
        parts = [self.subject, self.description]
        parts += list(comments.order_by("created_at", "id").values_list("body", flat=True))
        parts += list(files.order_by("id").values_list("original_name", flat=True))
        return "\n".join(part for part in parts if part)


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("autor"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("texto"), max_length=COMMENT_MAX)
    # Comments the portal writes (a merge note): the stored text, rendered in the reader's
    # language (support_portal.stored_text); `body` keeps the portal-language rendering.
    body_text = models.JSONField(_("texto guardado"), default=dict, blank=True)
    internal = models.BooleanField(_("nota interna"), default=False)
    time_spent_minutes = models.PositiveIntegerField(
        _("tiempo dedicado (min)"), null=True, blank=True, validators=[MaxValueValidator(TIME_SPENT_MAX)]
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comentario")
        verbose_name_plural = _("comentarios")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="comment_ticket_created"),
            # time-spent figures over a date range: only the replies that recorded minutes
            models.Index(
                fields=["created_at", "author"],
                name="comment_time_spent",
                condition=Q(time_spent_minutes__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.body[:40]}"

    @property
    def shown_body(self) -> str:
        """The body in the active language (portal-written comments are stored texts)."""
        return render(self.body_text) if self.body_text else self.body


class Event(models.Model):
    """One line of the timeline: who changed what, from which value to which."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Creado")
        COMMENTED = "commented", _("Comentario")
        NOTE = "note", _("Nota interna")
        STATUS = "status", _("Estado")
        PRIORITY = "priority", _("Prioridad")
        CATEGORY = "category", _("Categoría")
        ASSIGNED = "assigned", _("Asignación")
        WATCHERS = "watchers", _("Seguidores")
        SLA_AT_RISK = "sla_at_risk", _("SLA en riesgo")
        SLA_BREACHED = "sla_breached", _("SLA incumplido")
        MERGED = "merged", _("Fusión")
        RATED = "rated", _("Valoración")
        ATTACHMENT = "attachment", _("Adjunto")
        FOLLOW_UP = "follow_up", _("Seguimiento")
        TAGS = "tags", _("Etiquetas")
        CUSTOM_FIELD = "custom_field", _("Campo")
        LINKED = "linked", _("Vínculo añadido")
        UNLINKED = "unlinked", _("Vínculo quitado")

    class Via(models.TextChoices):
        """Where the change came from (tickets.audit sets it per request, task or message)."""

        WEB = "web", _("Web")
        API = "api", _("API")
        ADMIN = "admin", _("Administración")
        EMAIL = "email", _("Correo")
        CHAT = "chat", _("Chat")
        TASK = "task", _("Tarea programada")
        SYSTEM = "system", _("Sistema")

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("quién"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices)
    old_value = models.CharField(_("antes"), max_length=200, blank=True)
    new_value = models.CharField(_("después"), max_length=200, blank=True)
    internal = models.BooleanField(_("solo agentes"), default=False)
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    via = models.CharField(_("origen"), max_length=8, choices=Via.choices, default=Via.SYSTEM)
    created_at = models.DateTimeField(_("cuándo"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("evento")
        verbose_name_plural = _("eventos")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            # the supervisors' audit log: newest first, optionally by actor or kind
            models.Index(fields=["-created_at", "-id"], name="event_created"),
            models.Index(fields=["actor", "-created_at", "-id"], name="event_actor_created"),
            models.Index(fields=["kind", "-created_at", "-id"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.old_value} → {self.new_value}"


class CustomValue(models.Model):
    """A ticket's value of one custom field, in the column of its kind (indexed for the filters)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="custom_values")
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="values")
    text = models.CharField(max_length=500, blank=True)  # text and choice
    number = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("valor de campo personalizado")
        verbose_name_plural = _("valores de campos personalizados")
        constraints = [models.UniqueConstraint(fields=["ticket", "field"], name="one_value_per_ticket_field")]
        indexes = [
            models.Index(fields=["field", "text"], name="custom_value_text"),
            models.Index(fields=["field", "number"], name="custom_value_number"),
            models.Index(fields=["field", "date"], name="custom_value_date"),
        ]

    def __str__(self) -> str:
        return f"{self.field_id}={self.value}"

    @property
    def value(self):
        kind = self.field.kind
        if kind == CustomField.Kind.NUMBER:
            return self.number
        if kind == CustomField.Kind.DATE:
            return self.date
        return self.text


class TicketLink(models.Model):
    """A directed link between two tickets: `source` duplicates / blocks / is related to `target`.

    Shown on both sides (the target reads it backwards: "duplicado por", "bloqueado por").
    A "related" link is stored once with the lower id as source.
    """

    class Kind(models.TextChoices):
        DUPLICATES = "duplicates", _("Duplica a")
        BLOCKS = "blocks", _("Bloquea a")
        RELATED = "related", _("Relacionado con")

    source = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(
        Ticket, verbose_name=_("ticket vinculado"), on_delete=models.CASCADE, related_name="links_in"
    )
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("creado por"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("vínculo entre tickets")
        verbose_name_plural = _("vínculos entre tickets")
        indexes = [models.Index(fields=["target", "kind"], name="ticketlink_target")]
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="ticketlink_unique"),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="ticketlink_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"

    #: how the target reads the link (the source reads `Kind` labels)
    REVERSE_LABELS = {
        Kind.DUPLICATES: _("Duplicado por"),
        Kind.BLOCKS: _("Bloqueado por"),
        Kind.RELATED: _("Relacionado con"),
    }
    #: how the target reads the link, as a code (the API's `relation`); the source reads `kind`
    REVERSE_RELATIONS = {Kind.DUPLICATES: "duplicated_by", Kind.BLOCKS: "blocked_by", Kind.RELATED: Kind.RELATED.value}
    #: every relation read from one ticket's side → (stored kind, whether this ticket is the target)
    RELATIONS = {
        **{kind.value: (kind.value, False) for kind in Kind},
        "duplicated_by": (Kind.DUPLICATES.value, True),
        "blocked_by": (Kind.BLOCKS.value, True),
    }

    @classmethod
    def label(cls, kind: str, *, reverse: bool = False) -> str:
        return str(cls.REVERSE_LABELS[kind] if reverse else cls.Kind(kind).label)

    @classmethod
    def relation_choices(cls) -> list[tuple[str, str]]:
        """Every relation read from one ticket's side with its label (the ticket page's select)."""
        return [(code, cls.label(kind, reverse=reverse)) for code, (kind, reverse) in cls.RELATIONS.items()]


class TicketSearch(models.Model):
    """The stored full-text documents of a ticket (PostgreSQL `tsvector`s, GIN-indexed), kept
    current by tickets/search.py `refresh` from the services. Unused on SQLite."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="search")
    public = SearchVectorField(null=True)  # subject, description, public comments, their files
    internal = SearchVectorField(null=True)  # the same plus internal notes and their files (agents)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("documento de búsqueda")
        verbose_name_plural = _("documentos de búsqueda")

    def __str__(self) -> str:
        return str(self.ticket_id)


def attachment_path(instance: Attachment, filename: str) -> str:
    """Storage name: never the user's file name (that is kept in `original_name`)."""
    return f"tickets/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment,
        verbose_name=_("comentario"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("subido por"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file = models.FileField(_("fichero"), upload_to=attachment_path, max_length=255)
    original_name = models.CharField(_("nombre"), max_length=150)
    content_type = models.CharField(_("tipo"), max_length=100)
    size = models.PositiveIntegerField(_("tamaño"))
    created_at = models.DateTimeField(_("subido"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("adjunto")
        verbose_name_plural = _("adjuntos")

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("tickets:attachment", args=[self.ticket_id, self.pk])

    @property
    def internal(self) -> bool:
        return bool(self.comment_id and self.comment.internal)


class SavedView(models.Model):
    """An agent's named combination of /agent/ filters, shown as a tab (shared: on every agent's)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agente"), on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(_("nombre"), max_length=60)
    shared = models.BooleanField(_("compartida con todos los agentes"), default=False)
    position = models.PositiveIntegerField(_("orden"), default=0)
    query = models.CharField(_("filtros"), max_length=1000, blank=True, help_text=_("Parámetros de /agent/."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("vista guardada")
        verbose_name_plural = _("vistas guardadas")
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner")]
        indexes = [models.Index(fields=["shared", "owner", "position"], name="saved_view_shared")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('agent_dashboard')}?saved={self.pk}"


class AssignmentCursor(models.Model):
    """Round-robin position: the agent who got the last ticket of a category (key "category:<id>")."""

    key = models.CharField(max_length=40, unique=True)
    last_agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("turno de asignación")
        verbose_name_plural = _("turnos de asignación")

    def __str__(self) -> str:
        return f"{self.key} → {self.last_agent_id}"


def watcher_outsiders(franchise_id: int, user_ids) -> list:
    """Users among `user_ids` who may not follow a ticket of `franchise_id`: only its own
    franchisees and support staff may (a watcher receives the ticket's public comments)."""
    from accounts.models import User

    return list(
        User.objects.filter(pk__in=list(user_ids))
        .exclude(role__in=(User.Role.AGENT, User.Role.SUPERVISOR))
        .exclude(franchise_id=franchise_id)
    )


@receiver(m2m_changed, sender=Ticket.watchers.through)
def _watchers_belong_to_the_franchise(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Refuse (ValidationError) a watcher from another franchise, from either side of the relation."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:  # user.watched_tickets.add(*tickets)
        franchise_ids = set(Ticket.objects.filter(pk__in=pk_set).values_list("franchise_id", flat=True))
        outsiders = [u for fid in franchise_ids for u in watcher_outsiders(fid, [instance.pk])]
    else:
        outsiders = watcher_outsiders(instance.franchise_id, pk_set)
    if outsiders:
        names = ", ".join(sorted({u.username for u in outsiders}))
        raise ValidationError(
            {
                "watchers": _("Solo siguen un ticket el equipo de soporte y su franquicia: %(names)s no.")
                % {"names": names}
            }
        )
