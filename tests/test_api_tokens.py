"""Personal API tokens: only a hash is stored, the key is shown once, revocation, the command, throttling."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from api.models import ApiToken
from api.tokens import create_token
from tests.api_helpers import token_client

pytestmark = pytest.mark.django_db


def _all_token_columns() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 (our own table name)
        return [str(value) for row in cursor.fetchall() for value in row]


def test_only_a_digest_of_the_key_is_stored(franchisee):
    token, key = create_token(user=franchisee, name="ERP")
    assert len(key) >= 64
    stored = _all_token_columns()
    assert key not in stored and not any(key in value for value in stored)
    assert token.digest != key and len(token.digest) == 128  # SHA-512 hex
    assert token.token_key == key[:15]  # a prefix to recognise it, too short to authenticate with
    assert token_client(key=key).get("/api/v1/tickets/").status_code == 200
    assert token_client(key=token.token_key).get("/api/v1/tickets/").status_code == 401
    assert token_client(key=token.digest).get("/api/v1/tickets/").status_code == 401


def test_create_api_token_prints_the_key_as_last_word(franchisee):
    out = io.StringIO()
    call_command("create_api_token", franchisee.username, "--name", "BI", stdout=out)
    key = out.getvalue().strip().splitlines()[-1].split()[-1]
    response = token_client(key=key).get("/api/v1/tickets/")
    assert response.status_code == 200
    assert ApiToken.objects.get(user=franchisee).name == "BI"
    assert ApiToken.objects.get(user=franchisee).last_used_at is not None


def test_create_api_token_unknown_user_fails(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody")


def test_panel_shows_the_new_key_once_and_revokes(franchisee_client, franchisee):
    response = franchisee_client.post("/api/tokens/new/", {"name": "Integración"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'<code id="api-new-key">([0-9a-f]+)</code>', response.content.decode()).group(1)
    assert token_client(key=key).get("/api/v1/tickets/").status_code == 200
    page = franchisee_client.get("/api/tokens/").content.decode()
    assert "Integración" in page and key not in page and key[:15] in page  # listed by its prefix only
    token = ApiToken.objects.get(user=franchisee)
    response = franchisee_client.post(f"/api/tokens/{token.token_key}/revoke/")
    assert response.status_code == 302
    assert not ApiToken.objects.exists()
    assert token_client(key=key).get("/api/v1/tickets/").status_code == 401  # revoked at once


def test_nobody_revokes_someone_elses_token(franchisee, other_franchisee_client):
    token, key = create_token(user=franchisee, name="mine")
    other_franchisee_client.post(f"/api/tokens/{token.token_key}/revoke/")
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert token_client(key=key).get("/api/v1/tickets/").status_code == 200


def test_inactive_users_tokens_stop_working(franchisee):
    client = token_client(franchisee)
    franchisee.is_active = False
    franchisee.save()
    assert client.get("/api/v1/tickets/").status_code == 401


def test_tokens_per_user_are_limited(franchisee, settings):
    settings.API_TOKENS_PER_USER = 2
    create_token(user=franchisee, name="a")
    create_token(user=franchisee, name="b")
    client = Client()
    client.force_login(franchisee)
    response = client.post("/api/tokens/new/", {"name": "c"})
    assert response.status_code == 400
    assert ApiToken.objects.filter(user=franchisee).count() == 2


def test_panel_is_an_inclusion_tag_for_the_profile_page(rf, franchisee):
    from django.template import Context, Template

    create_token(user=franchisee, name="ERP")
    request = rf.get("/accounts/profile/")
    request.user = franchisee
    html = Template("{% load api_tags %}{% api_tokens_panel %}").render(Context({"request": request}))
    assert "ERP" in html and 'action="/api/tokens/new/"' in html
    assert 'value="/accounts/profile/"' in html  # revoking returns to the page that shows the panel


def test_throttle_is_per_token(franchisee, settings):
    settings.API_THROTTLE_RATE = "3/minute"
    first, second = token_client(franchisee), token_client(franchisee)
    codes = [first.get("/api/v1/tickets/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    throttled = first.get("/api/v1/tickets/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert second.get("/api/v1/tickets/").status_code == 200  # another token has its own budget
