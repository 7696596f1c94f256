"""notify(): stored in the caller's transaction, delivered on commit, to the right people only."""

import asyncio
import logging
import time

import pytest
from django.core import mail
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path

from notifications import kinds
from notifications.models import Notification
from notifications.services import (
    mark_read_for_target,
    notify,
    notify_many,
    push_to_agents,
    push_to_group,
    save_preferences,
)
from notifications.tasks import send_notification_email

pytestmark = pytest.mark.django_db


class RecordingLayer:
    """Stands in for the channel layer and remembers every group_send."""

    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


class BrokenLayer:
    async def group_send(self, group, message):
        raise ConnectionError("redis is down")


@pytest.fixture
def layer(monkeypatch):
    recording = RecordingLayer()
    monkeypatch.setattr("notifications.services.get_channel_layer", lambda: recording)
    return recording


@pytest.fixture(autouse=True)
def eager_celery(settings):
    """E-mail tasks run in process, also in CI where REDIS_URL turns eager mode off."""
    from support_portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def _notify(recipient, **kwargs):
    kwargs.setdefault("kind", kinds.TICKET_COMMENT)
    kwargs.setdefault("title", "Nueva respuesta en #12")
    kwargs.setdefault("url", "/tickets/12/")
    return notify(recipient=recipient, **kwargs)


def test_push_happens_only_after_commit(franchisee, layer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        notification = _notify(franchisee, body="Hola")
        assert layer.sent == []  # still inside the transaction
    assert len(callbacks) == 1
    [(group, message)] = layer.sent
    assert group == f"notifications.user.{franchisee.pk}"
    assert message["type"] == "push.frame"
    frame = message["frame"]
    assert frame == {
        "type": "notification",
        "id": notification.pk,
        "kind": "ticket_comment",
        "title": "Nueva respuesta en #12",
        "body": "Hola",
        "url": "/tickets/12/",
        "created": notification.created_at.isoformat(),
        "unread": 1,
    }


@pytest.mark.django_db(transaction=True)
def test_rollback_stores_nothing_and_pushes_nothing(franchisee, layer):
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify(franchisee)
        raise RuntimeError("the caller's use case failed")
    assert Notification.objects.count() == 0
    assert layer.sent == []
    assert mail.outbox == []


def test_the_actor_is_never_notified(agent, franchisee, layer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify(agent, actor=agent) is None
        sent = notify_many([agent, franchisee, franchisee], kind=kinds.TICKET_STATUS, title="Estado", actor=agent)
    assert [n.recipient for n in sent] == [franchisee]
    assert [group for group, _message in layer.sent] == [f"notifications.user.{franchisee.pk}"]


def test_internal_content_never_reaches_a_franchisee(franchisee, agent, layer, django_capture_on_commit_callbacks):
    franchisee.email = "fran@example.com"
    franchisee.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify(franchisee, title="Nota interna", internal=True) is None
        assert _notify(agent, title="Nota interna", internal=True) is not None
    assert not Notification.objects.filter(recipient=franchisee).exists()
    assert [group for group, _message in layer.sent] == [f"notifications.user.{agent.pk}"]
    assert mail.outbox == []


def test_unknown_kind_is_a_programming_error(franchisee):
    with pytest.raises(ValueError, match="unknown notification kind"):
        notify(recipient=franchisee, kind="nope", title="x")


def test_only_site_relative_links_are_kept(franchisee, layer):
    assert _notify(franchisee, url="javascript:alert(1)").url == ""
    assert _notify(franchisee, url="https://evil.example/").url == ""
    assert _notify(franchisee, url="//evil.example/").url == ""
    assert _notify(franchisee, url="/tickets/3/").url == "/tickets/3/"


def test_email_preference_off_sends_no_email(franchisee, layer, django_capture_on_commit_callbacks):
    franchisee.email = "fran@example.com"
    franchisee.save()
    save_preferences(franchisee, {kinds.TICKET_COMMENT: (True, False)})
    with django_capture_on_commit_callbacks(execute=True):
        _notify(franchisee)
    assert mail.outbox == []
    assert len(layer.sent) == 1  # still shown in the portal


def test_email_preference_on_sends_one_email_with_the_link(franchisee, layer, django_capture_on_commit_callbacks):
    franchisee.email = "fran@example.com"
    franchisee.save()
    with override_settings(SITE_URL="https://soporte.example"), django_capture_on_commit_callbacks(execute=True):
        _notify(franchisee, body="El técnico ha respondido.")  # ticket_comment e-mails by default
    [message] = mail.outbox
    assert message.to == ["fran@example.com"]
    assert "Nueva respuesta en #12" in message.subject
    assert "https://soporte.example/tickets/12/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="https://soporte.example/tickets/12/"' in html
    assert "Hola" in message.body  # Spanish by default


def test_email_is_in_the_recipients_language(franchisee, layer, django_capture_on_commit_callbacks):
    franchisee.email = "fran@example.com"
    franchisee.preferred_language = "en"
    franchisee.save()
    with django_capture_on_commit_callbacks(execute=True):
        _notify(franchisee)
    [message] = mail.outbox
    assert "Hello" in message.body
    assert "Open it in the portal" in message.body


def test_in_app_off_keeps_the_bell_quiet_but_emails(franchisee, layer, django_capture_on_commit_callbacks):
    franchisee.email = "fran@example.com"
    franchisee.save()
    save_preferences(franchisee, {kinds.TICKET_STATUS: (False, True)})
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(franchisee, kind=kinds.TICKET_STATUS)
    assert notification.is_read
    assert layer.sent == []
    assert len(mail.outbox) == 1


def test_both_channels_off_stores_nothing(franchisee, layer):
    save_preferences(franchisee, {kinds.TICKET_STATUS: (False, False)})
    assert _notify(franchisee, kind=kinds.TICKET_STATUS) is None
    assert not Notification.objects.exists()


def test_email_task_retries_on_smtp_errors(franchisee, monkeypatch):
    import smtplib

    franchisee.email = "fran@example.com"
    franchisee.save()
    notification = Notification.objects.create(recipient=franchisee, kind=kinds.TICKET_STATUS, title="x")
    calls = []

    def flaky_send(self, fail_silently=False):
        calls.append(1)
        if len(calls) < 3:
            raise smtplib.SMTPServerDisconnected("try later")
        return 1

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", flaky_send)
    result = send_notification_email.apply(args=[notification.pk])
    assert result.get() is True
    assert len(calls) == 3


@pytest.mark.parametrize("broken", ["raising layer", "redis on a closed port"])
def test_a_broken_channel_layer_never_fails_the_caller(
    broken, franchisee, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    if broken == "raising layer":
        monkeypatch.setattr("notifications.services.get_channel_layer", lambda: BrokenLayer())
        context = override_settings()
    else:
        context = override_settings(
            CHANNEL_LAYERS={
                "default": {
                    "BACKEND": "channels_redis.core.RedisChannelLayer",
                    "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
                }
            }
        )
    with context, caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notification = _notify(franchisee)
        push_to_agents({"type": "queue", "waiting": 1})
    assert Notification.objects.filter(pk=notification.pk, read_at__isnull=True).exists()
    assert "the client will catch up on reconnect" in caplog.text


@transaction.atomic
def _view_that_notifies(request):
    """A use case like any app's: writes, notifies, answers."""
    notify(recipient=request.user, kind=kinds.SLA_AT_RISK, title="SLA en riesgo", url="/tickets/1/")
    return HttpResponse("ok")


urlpatterns = [path("notify-me/", _view_that_notifies)]


@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
def test_a_request_that_notifies_succeeds_when_the_layer_is_down(agent, monkeypatch, caplog):
    """The request answers normally, the row is stored for the catch-up, the failure is logged."""
    monkeypatch.setattr("notifications.services.get_channel_layer", lambda: BrokenLayer())
    client = Client()
    client.force_login(agent)
    with caplog.at_level(logging.ERROR):
        response = client.get("/notify-me/")
    assert response.status_code == 200
    assert Notification.objects.filter(recipient=agent, title="SLA en riesgo", read_at__isnull=True).exists()
    assert "channel layer push" in caplog.text


def test_opening_an_item_marks_its_notifications_read(franchisee, agent, layer):
    target = agent  # any model instance works as a target
    about_it = _notify(franchisee, target=target)
    other = _notify(franchisee)
    theirs = _notify(agent, target=target, kind=kinds.SLA_AT_RISK)
    assert mark_read_for_target(franchisee, target) == 1
    about_it.refresh_from_db()
    other.refresh_from_db()
    theirs.refresh_from_db()
    assert about_it.is_read and not other.is_read and not theirs.is_read


class HangingLayer:
    async def group_send(self, group, message):
        await asyncio.sleep(30)


def test_a_hanging_channel_layer_cannot_hang_the_caller(franchisee, monkeypatch, caplog):
    monkeypatch.setattr("notifications.services.get_channel_layer", lambda: HangingLayer())
    monkeypatch.setattr("notifications.push.SEND_TIMEOUT", 0.2)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        assert push_to_group("notifications.user.1", {"type": "notification"}) is False
    assert time.monotonic() - started < 2
    assert "channel layer push" in caplog.text
