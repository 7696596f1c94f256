"""Notification kinds: what each one is and its default channels."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    email_by_default: bool
    staff_only: bool = False  # meant for support staff: franchisees' preferences page leaves it out


CHAT_MESSAGE = "chat_message"
CHAT_ACCEPTED = "chat_accepted"
TICKET_NEW = "ticket_new"
TICKET_ASSIGNED = "ticket_assigned"
TICKET_COMMENT = "ticket_comment"
TICKET_STATUS = "ticket_status"
SLA_AT_RISK = "sla_at_risk"
SLA_BREACHED = "sla_breached"
ARTICLE_REVIEW_DUE = "article_review_due"
ARTICLE_PUBLISHED = "article_published"

KINDS: dict[str, Kind] = {
    kind.code: kind
    for kind in [
        Kind(CHAT_MESSAGE, _("Mensaje de chat mientras no lo estás viendo"), False),
        Kind(CHAT_ACCEPTED, _("Chat aceptado por un agente"), False),
        Kind(TICKET_NEW, _("Nuevo ticket en la cola"), False, staff_only=True),
        Kind(TICKET_ASSIGNED, _("Ticket asignado"), True),
        Kind(TICKET_COMMENT, _("Respuesta pública en un ticket"), True),
        Kind(TICKET_STATUS, _("Cambio de estado de un ticket"), True),
        Kind(SLA_AT_RISK, _("SLA en riesgo"), True, staff_only=True),
        Kind(SLA_BREACHED, _("SLA incumplido"), True, staff_only=True),
        Kind(ARTICLE_REVIEW_DUE, _("Artículo pendiente de revisión"), False, staff_only=True),
        Kind(ARTICLE_PUBLISHED, _("Artículo publicado a partir de tu ticket"), True),
    ]
}
KIND_CHOICES = [(kind.code, kind.label) for kind in KINDS.values()]
