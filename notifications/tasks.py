"""E-mail delivery of notifications: text + HTML in the recipient's language, with retries."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from mail.outgoing import REPLY_MARKER, reply_headers
from notifications.models import Notification
from support_portal.links import safe_link
from support_portal.stored_text import language_of
from support_portal.times import time_zone_of

logger = logging.getLogger(__name__)


def absolute_link(path: str) -> str:
    """settings.SITE_URL + a site-relative path (the portal's home when there is none)."""
    base = settings.SITE_URL.rstrip("/")
    path = safe_link(path)
    return f"{base}{path}" if path else f"{base}/"


def build_email(notification: Notification) -> EmailMultiAlternatives:
    recipient = notification.recipient
    language = language_of(recipient)
    headers = reply_headers(notification)  # ticket e-mails: signed Reply-To + threading (mail/outgoing.py)
    # The recipient's language and time zone: stored texts and dates read as on their pages.
    with translation.override(language), timezone.override(time_zone_of(recipient)):
        context = {
            "reply_marker": str(REPLY_MARKER) if headers else "",
            "notification": notification,
            "recipient": recipient,
            "language": language,
            "link": absolute_link(notification.url),
            "preferences_link": absolute_link(reverse("notifications:preferences")),
        }
        subject = " ".join(render_to_string("notifications/email/notification_subject.txt", context).split())
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject[:200], text, settings.DEFAULT_FROM_EMAIL, [recipient.email], headers=headers or None
    )
    message.attach_alternative(html, "text/html")
    return message


@shared_task(
    bind=True,
    autoretry_for=(OSError,),  # smtplib.SMTPException and socket errors are OSErrors
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def send_notification_email(self, notification_id: int) -> bool:
    """Send one notification by e-mail; False when there is nothing (left) to send."""
    notification = Notification.objects.filter(pk=notification_id).select_related("recipient").first()
    if notification is None or not notification.recipient.email or not notification.recipient.is_active:
        return False
    build_email(notification).send()
    logger.info("notification %s e-mailed (attempt %s)", notification_id, self.request.retries + 1)
    return True
