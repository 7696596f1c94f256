"""Creating a ticket costs the same queries with 3 agents or 60: notifications are written in bulk.

Issue 13 ("tickets and notifications that don't grow with the team"): one preferences query and
one INSERT per language, one unread-count query after commit, one push per recipient.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import save_user
from notifications import kinds
from notifications.models import Notification, NotificationPreference
from notifications.services import notify_many
from tickets import services

pytestmark = pytest.mark.django_db


def _agents(n: int, start: int = 0, language: str = "es") -> list:
    users = [save_user(username=f"scale_agent_{i}", role="agent")[0] for i in range(start, start + n)]
    User.objects.filter(pk__in=[u.pk for u in users]).update(preferred_language=language)
    return list(User.objects.filter(pk__in=[u.pk for u in users]))


def _create_cost(franchisee, django_capture_on_commit_callbacks) -> tuple[int, int]:
    """(queries inside create_ticket, queries of the after-commit delivery)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks, CaptureQueriesContext(connection) as inside:
        services.create_ticket(actor=franchisee, subject="La TPV no imprime", description="Desde esta mañana.")
    with CaptureQueriesContext(connection) as after:
        for callback in callbacks:
            callback()
    return len(inside.captured_queries), len(after.captured_queries)


def test_ticket_creation_costs_the_same_whatever_the_number_of_agents(
    franchisee, settings, django_capture_on_commit_callbacks
):
    settings.TICKETS_AUTO_ASSIGN = "off"  # every agent is told about the new ticket
    _agents(3)
    _create_cost(franchisee, django_capture_on_commit_callbacks)  # warm the content-type cache
    few = _create_cost(franchisee, django_capture_on_commit_callbacks)
    _agents(57, start=3)
    many = _create_cost(franchisee, django_capture_on_commit_callbacks)
    assert many == few
    assert Notification.objects.filter(kind=kinds.TICKET_NEW).count() == 3 + 3 + 60  # two tickets with 3, one with 60


def test_each_recipient_reads_the_title_in_their_own_language(franchisee, settings, django_capture_on_commit_callbacks):
    """One bulk write for every recipient; the title is stored text, rendered in each reader's language."""
    from support_portal.stored_text import render_for

    settings.TICKETS_AUTO_ASSIGN = "off"
    spanish, english = _agents(2), _agents(2, start=2, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.create_ticket(actor=franchisee, subject="Cajón", description="No abre.")
    titles = {
        n.recipient_id: render_for(n.title_text, n.recipient)
        for n in Notification.objects.filter(kind=kinds.TICKET_NEW).select_related("recipient")
    }
    assert all(titles[a.pk].startswith("Nuevo ticket") for a in spanish), titles
    assert all(titles[a.pk].startswith("New ticket") for a in english), titles


def test_bulk_notify_keeps_each_recipients_preferences_and_unread_count(
    agent, agent2, supervisor, django_capture_on_commit_callbacks, monkeypatch
):
    pushed: list[tuple[str, dict]] = []
    monkeypatch.setattr("notifications.services.push_to_groups", pushed.extend)
    NotificationPreference.objects.create(user=agent2, kind=kinds.TICKET_NEW, in_app=False, email=False)
    notify_many([supervisor], kind=kinds.TICKET_NEW, title="antes")
    with django_capture_on_commit_callbacks(execute=True):
        sent = notify_many([agent, agent2, supervisor, agent], kind=kinds.TICKET_NEW, title="Nuevo")
    assert sorted(n.recipient_id for n in sent) == sorted([agent.pk, supervisor.pk])
    unread = {group: frame["unread"] for group, frame in pushed}
    assert unread == {f"notifications.user.{agent.pk}": 1, f"notifications.user.{supervisor.pk}": 2}
    assert all(frame["id"] for _group, frame in pushed)  # the pushed frames carry the stored ids
