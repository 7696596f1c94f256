"""Every page needs login: walk the URL resolver so new pages are covered automatically."""

import pytest
from django.test import Client

from tests.urlwalk import iter_routes

pytestmark = pytest.mark.django_db

PUBLIC = {
    "/accounts/login/",
    "/healthz",
    "/i18n/setlang/",
    "/admin/login/",
    # password reset by e-mail: for people who cannot log in
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/something/something/",
    "/accounts/password/reset/complete/",
}
ADMIN_PREFIX = "/admin/"  # the admin sends anonymous users to its own login page
API_PREFIXES = ("/api/v1/", "/api/schema/")  # the JSON API answers 401 (token or session), never a redirect


def _routes():
    return sorted({path for path, _name in iter_routes()})


def test_the_walk_finds_the_project_pages():
    paths = _routes()
    assert "/" in paths and "/agent/" in paths and "/healthz" in paths


@pytest.mark.parametrize("path", [p for p in _routes() if p not in PUBLIC])
def test_anonymous_is_sent_to_login(path):
    response = Client().get(path)
    if path.startswith(ADMIN_PREFIX):
        assert response.status_code in (302, 404), path
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"] or "/accounts/login/" in response["Location"]
        return
    if path.startswith(API_PREFIXES):
        assert response.status_code == 401, (path, response.status_code)
        assert response["WWW-Authenticate"] == "Token"
        return
    assert response.status_code == 302, (path, response.status_code)
    assert response["Location"].startswith("/accounts/login/?next="), path


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_pages_need_no_login(path):
    response = Client().get(path)
    assert response.status_code in (200, 405, 302, 503)
    assert "/accounts/login/?next=" not in response.get("Location", "")
