"""Celery beat tasks (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from tickets import audit, services


@shared_task
def sla_escalate() -> dict[str, int]:
    """Mark tickets at risk / breached and notify assignee and supervisors (idempotent)."""
    with audit.via("task"):
        return services.escalate_sla()


@shared_task
def auto_close_resolved() -> int:
    """Close tickets resolved longer than TICKETS_AUTO_CLOSE_DAYS ago."""
    with audit.via("task"):
        return services.auto_close_resolved()


@shared_task(ignore_result=True)
def refresh_tab_count(user_id: int, filters: dict) -> None:
    """Recount one /agent/ tab whose cached count went stale (tickets/tab_counts.py)."""
    from accounts.models import User
    from tickets import tab_counts

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        tab_counts.refresh(user, tab_counts.from_payload(filters))
