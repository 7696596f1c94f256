"""`seed_demo` creates the demo logins and is idempotent."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

DEMO_USERS = {"franquiciado1", "franquiciado2", "agente1", "agente2", "supervisor"}


def _counts() -> dict[str, int]:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label != "sessions"}


def test_seed_demo_creates_logins_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", "--password", "pw-demo-123", stdout=out)
    for username in DEMO_USERS:
        assert username in out.getvalue()
    first = _counts()
    assert first["accounts.User"] == 5 and first["accounts.Franchise"] == 2
    call_command("seed_demo", "--password", "pw-demo-123", stdout=StringIO())
    assert _counts() == first


def test_demo_franchisee_belongs_to_centro_and_logs_in():
    call_command("seed_demo", "--password", "pw-demo-123", stdout=StringIO())
    from accounts.models import User

    user = User.objects.get(username="franquiciado1")
    assert user.franchise.name == "Franquicia Centro"
    assert User.objects.get(username="franquiciado2").franchise.name == "Franquicia Norte"
    client = Client()
    response = client.post("/accounts/login/", {"username": "agente1", "password": "pw-demo-123"})
    assert response["Location"] == "/agent/"
