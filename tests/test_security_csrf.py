"""CSRF is enforced on every form post: every POST endpoint of the access matrix refuses a request
without the token (403) from a user who may otherwise post there, and accepts it with the token."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import access_world
from tests.access_matrix import MATRIX
from tests.access_world import World

stored_world, world = access_world.stored_world, access_world.world  # the shared world (tests/access_world.py)


def _allowed_role(rule) -> str | None:
    """A role that may post there (so a 403 can only come from the missing token)."""
    expected = rule.expected("POST")
    for role in ("owner", "agent", "anonymous"):
        if expected[role] not in ("404", "405") and not (role == "anonymous" and expected[role] == "login"):
            return role
    return None


# Form posts of every page. The JSON API takes no forms (a form post is a 415 before anything runs)
# and checks CSRF on session writes itself: tests/test_api_endpoints.py
# test_the_session_works_and_its_writes_need_csrf.
POSTS = [
    (path, i)
    for path, rules in sorted(MATRIX.items())
    for i, rule in enumerate(rules)
    if rule.post and _allowed_role(rule) is not None and not path.startswith("/api/v1/")
]


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def test_every_post_endpoint_is_covered():
    assert len(POSTS) >= 30


@pytest.mark.parametrize(("path", "index"), POSTS, ids=lambda v: str(v))
def test_post_without_token_is_refused(world: World, path, index):
    rule = MATRIX[path][index]
    client = _csrf_client(world.users[_allowed_role(rule)])
    response = client.post(world.url(rule), world.data(rule))
    assert response.status_code == 403, (rule.url, response.status_code)

    client.get("/accounts/login/" if world.users[_allowed_role(rule)] is None else "/notifications/")
    token = client.cookies["csrftoken"].value
    forged = client.post(world.url(rule), {**world.data(rule), "csrfmiddlewaretoken": "x" * 64})
    assert forged.status_code == 403, rule.url
    accepted = client.post(world.url(rule), {**world.data(rule), "csrfmiddlewaretoken": token})
    assert accepted.status_code != 403, rule.url


@pytest.mark.django_db
def test_login_form_needs_the_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_cross_site_post_with_a_valid_cookie_token_but_foreign_origin_is_refused(franchisee):
    """A page on another site cannot post even if it somehow knew the token: Origin is checked."""
    client = _csrf_client(franchisee)
    client.get("/notifications/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/notifications/read-all/",
        {"csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
