"""/accounts/profile/: the user's own sessions and "log out everywhere else" (issue 11)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import LoginSession
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(user, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_login_is_required():
    response = Client().get("/accounts/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_lists_only_my_live_sessions_and_marks_this_one(franchisee, other_franchisee):
    here = login(franchisee, "Navegador-Aqui")
    login(franchisee, "Navegador-Alli")
    login(other_franchisee, "Navegador-De-Otro")
    page = here.get("/accounts/profile/").content.decode()
    assert "Navegador-Aqui" in page and "Navegador-Alli" in page
    assert "Navegador-De-Otro" not in page
    assert "Este dispositivo" in page
    assert 'href="/accounts/profile/"' in page  # the user menu links here
    assert "Cerrar sesión en todos los demás dispositivos" in page


def test_end_others_is_a_csrf_protected_post(franchisee):
    client = Client(enforce_csrf_checks=True)
    client.force_login(franchisee)
    assert client.get("/accounts/profile/sessions/end-others/").status_code == 405
    assert client.post("/accounts/profile/sessions/end-others/").status_code == 403


def test_end_others_ends_every_other_session_even_unlisted(franchisee):
    here = login(franchisee, "Aqui")
    there = login(franchisee, "Alli")
    unlisted = Client()
    unlisted.force_login(franchisee)
    LoginSession.objects.filter(session_key=unlisted.session.session_key).delete()  # e.g. made before the list
    response = here.post("/accounts/profile/sessions/end-others/", follow=True)
    assert "Aqui" in response.content.decode() and "Alli" not in response.content.decode()
    for client in (there, unlisted):
        assert client.get("/accounts/profile/").status_code == 302
    assert here.get("/accounts/profile/").status_code == 200
    assert list(LoginSession.objects.values_list("user_agent", flat=True)) == ["Aqui"]


def test_a_password_change_ends_the_sessions_made_before_it(franchisee):
    from accounts.selectors import active_sessions

    login(franchisee, "Aqui")
    login(franchisee, "Alli")
    assert len(active_sessions(franchisee, None)) == 2
    franchisee.set_password("otra-Clave-987")
    franchisee.save()
    assert active_sessions(franchisee, None) == []  # the admin's form keeps its own via update_session_auth_hash
