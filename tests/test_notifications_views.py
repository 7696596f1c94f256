"""/notifications/ pages: list, mark read, mark all, catch-up JSON, preferences."""

import pytest

from notifications import kinds
from notifications.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db


def make(user, count=1, **kwargs):
    kwargs.setdefault("kind", kinds.TICKET_STATUS)
    return [
        Notification.objects.create(
            recipient=user, title=kwargs.pop("title", f"Aviso {i}"), url="/tickets/1/", **kwargs
        )
        for i in range(count)
    ]


def test_the_list_shows_my_notifications_only(franchisee_client, franchisee, other_franchisee):
    make(franchisee, title="Tu ticket avanza")
    make(other_franchisee, title="Ticket de Norte")
    response = franchisee_client.get("/notifications/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Tu ticket avanza" in content
    assert "Ticket de Norte" not in content


def test_the_list_is_paginated_and_can_show_unread_only(franchisee_client, franchisee):
    make(franchisee, count=25)
    page1 = franchisee_client.get("/notifications/")
    assert len(page1.context["page"]) == 20
    assert len(franchisee_client.get("/notifications/?page=2").context["page"]) == 5
    Notification.objects.filter(recipient=franchisee).exclude(title="Aviso 3").update(read_at="2026-01-01T00:00Z")
    unread = franchisee_client.get("/notifications/?unread=1")
    assert [n.title for n in unread.context["page"]] == ["Aviso 3"]


def test_user_text_is_escaped(franchisee_client, franchisee):
    make(franchisee, title="<script>alert(1)</script>")
    content = franchisee_client.get("/notifications/").content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;" in content


@pytest.mark.parametrize("count", [1, 20, 45])
def test_the_list_page_runs_a_fixed_number_of_queries(franchisee_client, franchisee, count, django_assert_num_queries):
    make(franchisee, count=count)
    # session, user, franchise (header), page count, page rows, unread count — however many rows
    with django_assert_num_queries(6):
        assert franchisee_client.get("/notifications/?page=2").status_code == 200


def test_mark_one_read(franchisee_client, franchisee):
    [notification] = make(franchisee)
    response = franchisee_client.post(f"/notifications/{notification.pk}/read/", {"next": "/notifications/?page=1"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?page=1"
    notification.refresh_from_db()
    assert notification.is_read


def test_mark_one_read_as_json_returns_the_new_count(franchisee_client, franchisee):
    first, _second = make(franchisee, count=2)
    response = franchisee_client.post(f"/notifications/{first.pk}/read/", HTTP_ACCEPT="application/json")
    assert response.json() == {"unread": 1}


def test_an_external_next_is_ignored(franchisee_client, franchisee):
    [notification] = make(franchisee)
    response = franchisee_client.post(f"/notifications/{notification.pk}/read/", {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications/"


def test_a_user_cannot_mark_anothers_notification(franchisee_client, other_franchisee):
    [theirs] = make(other_franchisee)
    response = franchisee_client.post(f"/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_mark_read_needs_post_and_csrf(franchisee, franchisee_client):
    from django.test import Client

    [notification] = make(franchisee)
    assert franchisee_client.get(f"/notifications/{notification.pk}/read/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(franchisee)
    assert strict.post(f"/notifications/{notification.pk}/read/").status_code == 403
    notification.refresh_from_db()
    assert not notification.is_read


def test_mark_all_read_touches_only_mine(franchisee_client, franchisee, other_franchisee):
    make(franchisee, count=3)
    make(other_franchisee, count=2)
    response = franchisee_client.post("/notifications/read-all/", follow=True)
    assert response.status_code == 200
    assert not Notification.objects.filter(recipient=franchisee, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=other_franchisee, read_at__isnull=True).count() == 2


def test_latest_gives_the_bell_its_catch_up(franchisee_client, franchisee, other_franchisee):
    make(franchisee, count=12)
    make(other_franchisee, count=3)
    Notification.objects.filter(recipient=franchisee, title="Aviso 0").update(read_at="2026-01-01T00:00Z")
    data = franchisee_client.get("/notifications/latest/?limit=5").json()
    assert data["unread"] == 11
    assert [item["title"] for item in data["results"]] == [f"Aviso {i}" for i in (11, 10, 9, 8, 7)]
    first = data["results"][0]
    assert set(first) == {"type", "id", "kind", "title", "body", "url", "created", "unread", "read"}
    assert first["type"] == "notification" and first["read"] is False
    assert franchisee_client.get("/notifications/latest/?limit=abc").status_code == 200


def test_the_bell_is_on_every_logged_in_page(franchisee_client):
    content = franchisee_client.get("/notifications/").content.decode()
    assert 'id="notification-bell"' in content
    assert 'data-latest-url="/notifications/latest/"' in content
    assert "notifications/bell.js" in content


def test_preferences_show_the_defaults(franchisee_client):
    response = franchisee_client.get("/notifications/preferences/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="ticket_comment-email" id="id_ticket_comment-email" checked' in content
    assert 'name="chat_message-email" id="id_chat_message-email">' in content


def test_preferences_are_saved_and_only_differences_are_stored(agent_client, agent):
    data = {f"{code}-in_app": "on" for code in kinds.KINDS}
    data.update({f"{code}-email": "on" for code, kind in kinds.KINDS.items() if kind.email_by_default})
    del data["ticket_status-email"]  # e-mail off for status changes
    data["chat_message-email"] = "on"  # e-mail on for chat messages
    del data["article_review_due-in_app"]
    response = agent_client.post("/notifications/preferences/", data)
    assert response.status_code == 302
    stored = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=agent)}
    assert stored == {
        "ticket_status": (True, False),
        "chat_message": (True, True),
        "article_review_due": (False, False),
    }
    page = agent_client.get("/notifications/preferences/").content.decode()
    assert 'name="ticket_status-email" id="id_ticket_status-email">' in page


def test_franchisees_do_not_see_staff_kinds_in_their_preferences(franchisee_client, franchisee):
    page = franchisee_client.get("/notifications/preferences/").content.decode()
    assert 'name="ticket_comment-in_app"' in page
    assert 'name="sla_breached-in_app"' not in page
    assert 'name="ticket_new-in_app"' not in page
    # a forged field for a hidden kind is ignored
    franchisee_client.post("/notifications/preferences/", {"sla_breached-email": "on", "ticket_comment-in_app": "on"})
    assert set(NotificationPreference.objects.filter(user=franchisee).values_list("kind", flat=True)) == {
        "chat_message",
        "chat_accepted",
        "ticket_assigned",
        "ticket_comment",
        "ticket_status",
        "article_published",
    }


def test_admin_lists_notifications_and_marks_them_read(supervisor_client, franchisee):
    first, second = make(franchisee, count=2)
    assert supervisor_client.get("/admin/notifications/notification/?read_at__isempty=1").status_code == 200
    assert supervisor_client.get("/admin/notifications/notificationpreference/").status_code == 200
    response = supervisor_client.post(
        "/admin/notifications/notification/",
        {"action": "mark_as_read", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_read and not second.is_read
