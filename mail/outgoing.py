"""Headers of outgoing ticket notification e-mails: signed Reply-To and per-ticket threading."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.core.mail import make_msgid
from django.utils.translation import gettext_lazy as _

from mail.addresses import reply_address, support_address, thread_id

if TYPE_CHECKING:
    from notifications.models import Notification

#: The first line of every ticket e-mail; the text above it in a reply is what the user wrote.
REPLY_MARKER = _("## Responde por encima de esta línea ##")


def ticket_id_of(notification: Notification) -> int | None:
    """The ticket a notification is about, or None."""
    from tickets.models import Ticket

    if not notification.target_type_id or not notification.target_id.isdigit():
        return None
    if notification.target_type_id != ContentType.objects.get_for_model(Ticket).pk:
        return None
    return int(notification.target_id)


def reply_headers(notification: Notification) -> dict[str, str] | None:
    """Reply-To (signed for this ticket and recipient), Message-ID, In-Reply-To and References;
    None when the notification is not about a ticket or no SUPPORT_EMAIL is configured."""
    ticket_id = ticket_id_of(notification)
    if ticket_id is None or not support_address()[1]:
        return None
    root = thread_id(ticket_id)
    return {
        "Reply-To": reply_address(ticket_id, notification.recipient_id),
        "Message-ID": make_msgid(idstring=f"ticket-{ticket_id}.n{notification.pk}", domain=support_address()[1]),
        "In-Reply-To": root,
        "References": root,
    }
