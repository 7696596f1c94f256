"""E-mail delivery of notifications (the notifications issue completes templates and retries)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from notifications.models import Notification


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_notification_email(self, notification_id: int) -> bool:
    notification = Notification.objects.filter(pk=notification_id).select_related("recipient").first()
    if notification is None or not notification.recipient.email:
        return False
    link = f"{settings.SITE_URL}{notification.url}" if notification.url else settings.SITE_URL
    send_mail(notification.title, f"{notification.body}\n\n{link}", None, [notification.recipient.email])
    return True
