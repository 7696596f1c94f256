"""Celery task: deliver one webhook, retrying with exponential back-off."""

from __future__ import annotations

from celery import shared_task

from api.models import WebhookDelivery
from api.webhooks import attempt_delivery, backoff_seconds


@shared_task(bind=True, max_retries=None, acks_late=True, ignore_result=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt per run; a failure re-queues the task after backoff_seconds(attempts) until
    WEBHOOK_MAX_ATTEMPTS is reached (the delivery is then `failed`)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED):
        return "skipped"
    if not delivery.endpoint.active:
        return "inactive"
    if attempt_delivery(delivery):
        return "succeeded"
    if delivery.status == WebhookDelivery.Status.FAILED:
        return "failed"
    raise self.retry(countdown=backoff_seconds(delivery.attempts))
