"""Account e-mails, in the user's preferred language: password reset links and security notices."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User

logger = logging.getLogger(__name__)

NOTICES = ("email_changed", "password_changed", "password_reset")
RETRY = {
    "autoretry_for": (OSError,),  # SMTP and socket errors
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(**RETRY)
def send_password_reset(email: str, ip: str | None = None) -> int:
    """Send a reset link to every active account with this address and a usable password
    (Django's PasswordResetForm); returns how many were sent (0 for an unknown address)."""
    from accounts.forms import PortalPasswordResetForm

    form = PortalPasswordResetForm({"email": email}, ip=ip)
    if not form.is_valid():
        return 0
    site = urlsplit(settings.SITE_URL)
    form.save(
        domain_override=site.netloc,
        use_https=site.scheme == "https",
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.txt",
        extra_email_context={"reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60},
    )
    return form.sent


@shared_task(**RETRY)
def send_security_notice(user_id: int, notice: str, address: str) -> bool:
    """Tell `address` about a change to the account (`notice` in NOTICES): an old address hears
    that the e-mail changed, the account's address that its password changed or was reset."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or notice not in NOTICES or not address:
        return False
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        context = {"user": user, "notice": notice, "site_url": settings.SITE_URL.rstrip("/")}
        subject = " ".join(render_to_string("accounts/email/security_notice_subject.txt", context).split())
        body = render_to_string("accounts/email/security_notice.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
    logger.info("security notice %s sent for user %s", notice, user_id)
    return True
