"""Self-service account (issue 17): the profile (name, e-mail, notification preferences, sessions,
log out everywhere), the account's audit trail, and password reset by e-mail (Django's views,
rate-limited, no user enumeration, links that expire, e-mails in the user's language)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountEvent, User
from notifications.models import NotificationPreference
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

RESET = "/accounts/password/reset/"
LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(autouse=True)
def eager_celery():
    """The reset and notice e-mails are Celery tasks: run them in process (also in CI, where
    REDIS_URL turns eager mode off)."""
    from support_portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def carmen(franchisee) -> User:
    franchisee.first_name, franchisee.email = "Carmen", "carmen@example.com"
    franchisee.save()
    return franchisee


def login(user, agent: str = "Navegador") -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def kinds(user) -> list[str]:
    return list(AccountEvent.objects.filter(user=user).order_by("pk").values_list("kind", flat=True))


# --- profile ---------------------------------------------------------------------------------------


def test_the_profile_shows_every_panel(carmen):
    page = login(carmen).get("/accounts/profile/").content.decode()
    assert 'value="carmen@example.com"' in page and 'value="Carmen"' in page
    assert 'id="notifications"' in page and 'name="ticket_comment-email"' in page  # preferences panel
    assert 'action="/notifications/preferences/"' in page
    assert "Cerrar sesión en todos los demás dispositivos" in page
    assert "Cerrar sesión en todas partes (también aquí)" in page
    assert 'id="api-tokens"' in page  # the API tokens panel
    assert "Actividad de la cuenta" in page
    # every aria-describedby names an element that exists (the e-mail's help text)
    for ids in re.findall(r'aria-describedby="([^"]+)"', page):
        for name in ids.split():
            assert f'id="{name}"' in page, name


def test_name_and_email_are_saved_audited_and_the_old_address_told(carmen, django_capture_on_commit_callbacks):
    carmen.preferred_language = "en"
    carmen.save()
    client = login(carmen)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/profile/", {"first_name": " Carmen ", "last_name": "Ruiz", "email": "Carmen.R@Example.COM"}
        )
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    carmen.refresh_from_db()
    assert (carmen.first_name, carmen.last_name, carmen.email) == ("Carmen", "Ruiz", "Carmen.R@example.com")
    assert kinds(carmen) == ["profile_updated", "email_changed"]
    changed = AccountEvent.objects.get(user=carmen, kind="email_changed")
    assert changed.data == {"old": "c•••••@example.com", "new": "C•••••••@example.com"}
    assert changed.ip_address == "127.0.0.1"
    assert [m.to for m in mail.outbox] == [["carmen@example.com"]]
    assert mail.outbox[0].subject == "The e-mail address of your account has changed"  # her language
    page = client.get("/accounts/profile/").content.decode()
    assert "Data saved." in page or "Datos guardados." in page
    assert "Correo electrónico cambiado" in page or "E-mail address changed" in page


def test_nothing_changed_records_nothing(carmen):
    client = login(carmen)
    client.post("/accounts/profile/", {"first_name": "Carmen", "last_name": "", "email": "carmen@example.com"})
    assert kinds(carmen) == []


@pytest.mark.parametrize("email", ["OTHER@example.com", "no-es-un-correo", ""])
def test_a_taken_or_invalid_email_is_a_form_error_with_a_focused_summary(carmen, other_franchisee, email):
    other_franchisee.email = "other@example.com"
    other_franchisee.save()
    response = login(carmen).post("/accounts/profile/", {"first_name": "X", "last_name": "", "email": email})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-error-summary role="alert"' in page and 'href="#id_email"' in page
    assert 'aria-invalid="true"' in page
    carmen.refresh_from_db()
    assert (carmen.first_name, carmen.email) == ("Carmen", "carmen@example.com")
    assert kinds(carmen) == []


def test_preferences_saved_from_the_profile_come_back_to_it(carmen):
    client = login(carmen)
    response = client.post(
        "/notifications/preferences/",
        {"next": "/accounts/profile/#notifications", "ticket_comment-in_app": "on"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/#notifications"
    assert NotificationPreference.objects.filter(user=carmen, kind="ticket_comment", email=False).exists()
    other = client.post("/notifications/preferences/", {"next": "https://evil.example/"})
    assert other["Location"] == "/notifications/preferences/"


def test_log_out_everywhere_ends_this_session_too(carmen):
    here, there = login(carmen, "Aqui"), login(carmen, "Alli")
    response = here.post("/accounts/profile/sessions/end-all/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    for client in (here, there):
        assert client.get("/accounts/profile/").status_code == 302
    assert kinds(carmen) == ["all_sessions_ended"]
    assert AccountEvent.objects.get(user=carmen).data == {"ended": 2}


def test_ending_the_other_sessions_is_audited(carmen):
    here = login(carmen, "Aqui")
    login(carmen, "Alli")
    here.post("/accounts/profile/sessions/end-others/")
    assert kinds(carmen) == ["sessions_ended"]


def test_a_password_change_is_audited_and_notified(carmen, django_capture_on_commit_callbacks):
    client = login(carmen)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": "Otra-Clave-9876", "new_password2": "Otra-Clave-9876"},
        )
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200  # this session keeps working
    assert kinds(carmen) == ["password_changed"]
    assert [m.subject for m in mail.outbox] == ["Ha cambiado tu contraseña"]


def test_a_failed_password_change_shows_the_error_summary(carmen):
    response = login(carmen).post("/accounts/password/", {"old_password": "mal"})
    page = response.content.decode()
    assert response.status_code == 200 and "data-error-summary" in page and 'href="#id_old_password"' in page


def test_the_profile_costs_the_same_queries_with_more_events(carmen):
    client = login(carmen)
    client.get("/accounts/profile/")
    with CaptureQueriesContext(connection) as few:
        client.get("/accounts/profile/")
    for n in range(8):
        client.post("/accounts/profile/", {"first_name": f"Carmen {n}", "last_name": "", "email": "carmen@example.com"})
    with CaptureQueriesContext(connection) as more:
        page = client.get("/accounts/profile/")
    assert page.content.decode().count("Datos personales cambiados") == 8
    assert len(more) == len(few)


# --- password reset --------------------------------------------------------------------------------


@pytest.fixture
def reset(django_capture_on_commit_callbacks):
    """reset(client, email): post the form; the on-commit work (the task) runs as after a real commit."""

    def _reset(client: Client, email: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(RESET, {"email": email})

    return _reset


def test_the_login_page_links_to_the_reset():
    page = Client().get("/accounts/login/").content.decode()
    assert f'href="{RESET}"' in page


def test_a_reset_link_sets_a_new_password_once_in_the_users_language(carmen, reset, django_capture_on_commit_callbacks):
    carmen.preferred_language = "en"
    carmen.save()
    old_session = login(carmen)
    anonymous = Client()
    response = reset(anonymous, "CARMEN@example.com")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carmen@example.com"]
    assert message.subject.startswith("Reset your password")
    assert "Hello, Carmen:" in message.body and "expires in 60 minutes" in message.body
    path = LINK.search(message.body).group(1)

    page = anonymous.get(path, follow=True)
    assert page.status_code == 200 and 'name="new_password1"' in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    with django_capture_on_commit_callbacks(execute=True):
        done = anonymous.post(form_url, {"new_password1": "Nueva-Clave-5432", "new_password2": "Nueva-Clave-5432"})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/complete/"
    signed_in = Client().post("/accounts/login/", {"username": carmen.username, "password": "Nueva-Clave-5432"})
    assert signed_in.status_code == 302
    assert old_session.get("/accounts/profile/").status_code == 302  # the sessions made before end
    assert kinds(carmen) == ["password_reset_requested", "password_reset"]
    assert mail.outbox[-1].subject == "Your password has been reset"
    again = Client().get(path, follow=True).content.decode()
    assert "El enlace ha caducado o ya se ha usado" in again  # used once: no longer valid


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(carmen, reset):
    known, unknown = reset(Client(), "carmen@example.com"), reset(Client(), "nadie@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1
    done = Client().get(known["Location"]).content.decode()
    assert "Si hay una cuenta con ese correo" in done


def test_the_request_does_the_same_work_for_known_and_unknown_addresses(carmen, monkeypatch, reset):
    """The look-up happens in the task: the request's queries do not depend on the address."""
    queued = []
    monkeypatch.setattr("accounts.tasks.send_password_reset.delay", lambda *args: queued.append(args))
    counts = []
    for email in ("carmen@example.com", "nadie@example.com"):
        with CaptureQueriesContext(connection) as queries:
            reset(Client(), email)
        counts.append([q["sql"] for q in queries])
    assert counts[0] == counts[1]
    assert [args[0] for args in queued] == ["carmen@example.com", "nadie@example.com"]
    assert mail.outbox == []


def test_links_expire(carmen, settings, monkeypatch, reset):
    reset(Client(), "carmen@example.com")
    path = LINK.search(mail.outbox[0].body).group(1)
    now = default_token_generator._now()
    monkeypatch.setattr(
        default_token_generator, "_now", lambda: now + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    )
    page = Client().get(path, follow=True).content.decode()
    assert "El enlace ha caducado o ya se ha usado" in page and "new_password1" not in page


def test_requests_per_address_are_limited_silently(carmen, settings, reset):
    settings.PASSWORD_RESET_EMAIL_RATE = "3/3600"
    answers = {reset(Client(REMOTE_ADDR=f"10.0.0.{n}"), "carmen@example.com")["Location"] for n in range(5)}
    assert answers == {"/accounts/password/reset/done/"}  # same answer, over the limit too
    assert len(mail.outbox) == 3


def test_requests_per_client_address_are_limited(carmen, settings, reset):
    settings.PASSWORD_RESET_IP_RATE = "4/3600"
    client = Client()
    statuses = [reset(client, f"x{n}@example.com").status_code for n in range(5)]
    assert statuses == [302, 302, 302, 302, 429]
    limited = reset(client, "carmen@example.com")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Demasiadas solicitudes" in limited.content.decode()
    assert mail.outbox == []


def test_reset_pages_render_in_english():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Reset your password" in client.get(RESET).content.decode()
