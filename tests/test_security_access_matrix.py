"""The access matrix (tests/access_matrix.py) against the real URL resolver and WebSocket routes.

For every endpoint × {anonymous, owning franchisee, other franchisee, agent}: the stated outcome.
A new endpoint without an entry fails `test_every_endpoint_has_an_entry`. The HTTP checks share one
stored world per module (tests/access_world.py); the WebSocket routes' checks are transactional and
live in tests/test_security_access_matrix_ws.py.
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import save_franchise, save_user
from support_portal.routing import websocket_urlpatterns
from tests import access_world
from tests.access_matrix import ADMIN_INDEX, ADMIN_OPEN, ADMIN_PREFIX, MATRIX, WS_MATRIX
from tests.urlwalk import iter_routes


def _resolver_paths() -> set[str]:
    return {path for path, _name in iter_routes()}


def test_every_endpoint_has_an_entry():
    paths = _resolver_paths()
    missing = sorted(p for p in paths if p not in MATRIX and not p.startswith(ADMIN_PREFIX))
    assert not missing, f"endpoints without an access-matrix entry in tests/access_matrix.py: {missing}"
    stale = sorted(set(MATRIX) - paths)
    assert not stale, f"access-matrix entries for endpoints that no longer exist: {stale}"


def test_every_websocket_route_has_an_entry():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes == set(WS_MATRIX), f"WebSocket routes {routes} vs matrix {set(WS_MATRIX)}"


# --- the world every check runs against: tests/access_world.py (stored once per module) --------

stored_world, world = access_world.stored_world, access_world.world
World = access_world.World


MISSING = {
    "ticket": 999_999,
    "attachment": 999_999,
    "conversation": 999_999,
    "chat_attachment": 999_999,
    "notification": 999_999,
    "article": "no-such-article",
    "draft": "no-such-draft",
    "revision": 999,
    "macro": 999_999,
    "foreign_macro": 999_999,
    "link": 999_999,
    "saved_view": 999_999,
    "foreign_view": 999_999,
}


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _matches(expected: str, response) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    to_login = status == 302 and ("/accounts/login/" in location or "/admin/login/" in location)
    if expected == "login":
        return to_login
    if expected == "ran":
        return 200 <= status < 300 or (300 <= status < 400 and not to_login) or status in (400, 409)
    return status == int(expected) and not (300 <= status < 400 and to_login)


def _cases() -> list[tuple[str, int]]:
    return [(path, index) for path, rules in sorted(MATRIX.items()) for index in range(len(rules))]


@pytest.mark.parametrize(("path", "index"), _cases(), ids=lambda v: str(v))
def test_http_endpoint_gives_each_role_its_outcome(world, path, index):
    rule = MATRIX[path][index]
    failures = []
    # Refused roles first, so an allowed action (closing, merging…) cannot hide a leak.
    for role in ("anonymous", "other", "owner", "agent"):
        for method in rule.methods:
            expected = rule.expected(method)[role]
            client = _client(world.users[role])
            url = world.url(rule)
            response = client.get(url) if method == "GET" else client.post(url, world.data(rule))
            if not _matches(expected, response):
                failures.append(f"{method} {url} as {role}: expected {expected}, got {response.status_code}")
            if role == "other" and expected == "404" and "{" in rule.url:
                # Another franchise's row and a row that does not exist must look the same.
                missing = World(world.users, {k: MISSING.get(k, v) for k, v in world.values.items()})
                ghost = (
                    client.get(missing.url(rule))
                    if method == "GET"
                    else client.post(missing.url(rule), missing.data(rule))
                )
                if ghost.status_code != response.status_code:
                    failures.append(
                        f"{method} {url} as other: {response.status_code}, missing row: {ghost.status_code}"
                    )
    assert not failures, "\n".join(failures)


def test_admin_is_for_staff_only(db):
    """Anonymous visitors and franchisees never get an admin page: a login page instead."""
    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    franchisee = save_user(username="owner", role="franchisee", franchise=centro)[0]
    paths = sorted(p for p in _resolver_paths() if p.startswith(ADMIN_PREFIX) and p not in ADMIN_OPEN)
    assert len(paths) > 20
    failures = []
    for user in (None, franchisee):
        client = _client(user)
        for path in paths:
            response = client.get(path)
            location = response.get("Location", "")
            to_login = "/admin/login/" in location or "/accounts/login/" in location
            if not (response.status_code == 404 or (response.status_code == 302 and to_login)):
                failures.append(f"{path} as {user or 'anonymous'}: {response.status_code} {location}")
    assert not failures, "\n".join(failures)


def test_admin_index_matrix(world):
    for role, expected in ADMIN_INDEX.expected("GET").items():
        response = _client(world.users[role]).get(ADMIN_INDEX.url)
        assert _matches(expected, response), (role, response.status_code)
