"""Macros: canned replies (shared by the team or personal to one agent) with optional ticket actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tickets.models import Priority, Status

NAME_MAX = 60
BODY_MAX = 5_000

#: Statuses a macro may set (a reply never sends a ticket back to "new").
STATUS_CHOICES = [(value, label) for value, label in Status.choices if value != Status.NEW]


class Macro(models.Model):
    """A canned reply. `owner` empty: shared with every agent (supervisors edit it);
    `owner` set: personal, visible to that agent only."""

    name = models.SlugField(
        _("nombre"),
        max_length=NAME_MAX,
        allow_unicode=True,
        help_text=_("Lo que se escribe después de «/» para usarla: letras, números y guiones."),
    )
    body = models.TextField(_("texto"), max_length=BODY_MAX)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("propietario"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
        help_text=_("Vacío: compartida con todo el equipo."),
    )
    set_status = models.CharField(_("cambiar el estado a"), max_length=16, blank=True, choices=STATUS_CHOICES)
    set_priority = models.CharField(_("cambiar la prioridad a"), max_length=16, blank=True, choices=Priority.choices)
    assign_to_self = models.BooleanField(_("asignarme el ticket"), default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asignar el ticket a"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    usage_count = models.PositiveIntegerField(_("usos"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("respuesta predefinida")
        verbose_name_plural = _("respuestas predefinidas")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="macro_unique_personal_name"),
            models.UniqueConstraint(fields=["name"], condition=Q(owner=None), name="macro_unique_shared_name"),
            models.CheckConstraint(
                condition=Q(assign_to_self=False) | Q(assignee=None), name="macro_one_assignment_action"
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.name}"

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None

    @property
    def has_actions(self) -> bool:
        return bool(self.set_status or self.set_priority or self.assign_to_self or self.assignee_id)


class MacroUse(models.Model):
    """One sent reply that used a macro: a ticket comment or a chat message (counted once each)."""

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="uses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.ForeignKey("tickets.Comment", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("uso de respuesta predefinida")
        verbose_name_plural = _("usos de respuestas predefinidas")
        constraints = [
            models.UniqueConstraint(fields=["macro", "comment"], name="macro_use_once_per_comment"),
            models.UniqueConstraint(fields=["macro", "message"], name="macro_use_once_per_message"),
            models.CheckConstraint(
                condition=Q(comment__isnull=False, message=None) | Q(comment=None, message__isnull=False),
                name="macro_use_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.macro} · {self.created_at:%Y-%m-%d %H:%M}"
