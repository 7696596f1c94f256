"""Celery beat task: poll IMAP_URL (settings.CELERY_BEAT_SCHEDULE "mail-poll-imap")."""

import logging

from celery import shared_task
from django.conf import settings

from mail import imap

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def poll_imap() -> dict[str, int]:
    """Ingest new messages of the IMAP_URL mailbox; nothing to do when IMAP_URL is empty."""
    if not settings.IMAP_URL:
        return {}
    try:
        counts = imap.poll(settings.IMAP_URL)
    except (OSError, ValueError, imap.IMAPClient.Error) as exc:
        logger.warning("IMAP poll failed (%s: %s); next poll retries", type(exc).__name__, exc)
        return {"error": 1}
    logger.info("IMAP poll: %s", counts)
    return counts
