"""Login throttling (django-axes): 5 failures lock the username from that address with a 429."""

import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    """Dozens of logins: a fast hasher keeps the module quick (throttling does not depend on it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_account_even_for_the_right_password(franchisee):
    client = Client()
    for _ in range(4):
        assert _attempt(client, franchisee.username, "wrong").status_code == 200
    fifth = _attempt(client, franchisee.username, "wrong")
    assert fifth.status_code == 429
    locked = _attempt(client, franchisee.username, PASSWORD)
    assert locked.status_code == 429
    assert "Acceso bloqueado temporalmente" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert "Demasiados intentos" in locked.content.decode()


def test_lockout_is_per_username_and_address(franchisee, other_franchisee):
    attacker = Client()
    for _ in range(5):
        _attempt(attacker, franchisee.username, "wrong")
    assert _attempt(attacker, franchisee.username, PASSWORD).status_code == 429
    # another user from the same address, and the same user from their own address, still get in
    assert _attempt(Client(), other_franchisee.username, PASSWORD).status_code == 302
    assert _attempt(Client(), franchisee.username, PASSWORD, ip="10.0.0.2").status_code == 302


def test_a_success_resets_the_failure_count(franchisee):
    client = Client()
    for _ in range(4):
        _attempt(client, franchisee.username, "wrong")
    assert _attempt(client, franchisee.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _attempt(client, franchisee.username, "wrong").status_code == 200
    assert _attempt(client, franchisee.username, PASSWORD).status_code == 302


def test_login_rotates_the_session_key(franchisee):
    """No session fixation: the key an attacker could plant before login is not the one after."""
    client = Client()
    client.get(LOGIN)
    client.cookies["sessionid"] = "attacker-chosen-session-key"
    assert _attempt(client, franchisee.username, PASSWORD).status_code == 302
    assert client.cookies["sessionid"].value != "attacker-chosen-session-key"


# --- per-IP throttle (password spraying: many usernames, one address) --------------------------


def test_password_spraying_from_one_address_is_throttled(settings, franchisee, other_franchisee):
    settings.LOGIN_IP_FAILURE_RATE = "10/900"
    sprayer = Client()
    for i in range(10):  # one try per username: the username+IP lockout never triggers
        assert _attempt(sprayer, f"user{i}", "Primavera2026").status_code == 200
    for username, password in (("nobody", "x"), (franchisee.username, "wrong"), (franchisee.username, PASSWORD)):
        blocked = _attempt(sprayer, username, password)
        assert blocked.status_code == 429, username
        assert "Acceso bloqueado temporalmente" in blocked.content.decode()
    assert "_auth_user_id" not in sprayer.session

    # the same page whether the account exists or not: nothing to enumerate
    def page(username):
        html = _attempt(sprayer, username, "x").content.decode()
        return re.sub(r'(nonce|value)="[^"]*"', "", html)

    assert page("nobody") == page(franchisee.username)
    # other addresses are not affected
    assert _attempt(Client(), other_franchisee.username, PASSWORD, ip="10.0.0.9").status_code == 302


def test_the_per_ip_throttle_lifts_after_its_window(settings, franchisee, monkeypatch):
    import time

    settings.LOGIN_IP_FAILURE_RATE = "3/60"
    for i in range(3):
        _attempt(Client(), f"user{i}", "x")
    assert _attempt(Client(), franchisee.username, PASSWORD).status_code == 429
    later = time.time() + 121
    monkeypatch.setattr(time, "time", lambda: later)
    assert _attempt(Client(), franchisee.username, PASSWORD).status_code == 302
