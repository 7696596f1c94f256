"""Celery tasks of the chat (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from chat import services


@shared_task(name="chat.tasks.close_inactive_conversations")
def close_inactive_conversations() -> int:
    """Close conversations idle for longer than CHAT_INACTIVE_MINUTES."""
    return services.close_inactive_conversations()


@shared_task(name="chat.tasks.ticket_unanswered_conversations")
def ticket_unanswered_conversations() -> int:
    """Turn chats waiting longer than CHAT_UNANSWERED_MINUTES into tickets (the franchisee is told)."""
    return services.ticket_unanswered_conversations()
