"""Production mode over real HTTP: security headers, cookie flags, HTTPS redirect, error pages.

A Daphne process runs with the production values (DEBUG off, a real SECRET_KEY, the default
HTTPS settings); the client sends `X-Forwarded-Proto: https` as the TLS-terminating proxy does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.livestack import HttpSession, LiveStack

pytestmark = pytest.mark.slow

INTERNALS = ("Traceback", "Exception", "Error at", "django", "Django", "settings.py", "SECRET", "DEBUG", "sqlite")


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> Iterator[LiveStack]:
    work = tmp_path_factory.mktemp("production")
    stack = LiveStack(Path(work) / "stack", production=True).start()
    stack.seed_people()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def _cookie(set_cookies: list[str], name: str) -> str:
    found = [c for c in set_cookies if c.startswith(name + "=")]
    assert found, f"no {name} cookie in {set_cookies}"
    return found[-1]


def test_plain_http_is_redirected_to_https(production):
    response = HttpSession(production.url).get("/accounts/login/")
    assert response.status == 301
    assert response.headers["Location"].startswith("https://")


def test_security_headers_on_every_response(production):
    session = HttpSession(production.url, behind_tls_proxy=True)
    response = session.get("/accounts/login/")
    assert response.status == 200
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in headers["permissions-policy"]
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_session_and_csrf_cookie_flags(production):
    session = HttpSession(production.url, behind_tls_proxy=True)
    csrf = _cookie(session.get("/accounts/login/").set_cookies, "csrftoken")
    assert "Secure" in csrf and "SameSite=Lax" in csrf
    response = session.post("/accounts/login/", {"username": "fran_centro", "password": "Live-pass-2024!"})
    assert response.status == 302
    cookie = _cookie(response.set_cookies, "sessionid")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert session.get("/").status == 200  # the Secure cookie works behind the TLS proxy


def test_not_found_page_shows_no_internals(production):
    session = HttpSession(production.url, behind_tls_proxy=True).login("fran_centro")
    response = session.get("/no-such-page/at/all/")
    assert response.status == 404
    assert "Página no encontrada" in response.text
    for word in INTERNALS:
        assert word not in response.text, word
    assert "no-such-page" not in response.text.split("<main", 1)[-1]  # the URL is not echoed into the page


def test_wrong_host_is_refused_without_internals(production):
    session = HttpSession(production.url, behind_tls_proxy=True)
    response = session.request("GET", "/accounts/login/", headers={"Host": "evil.example"})
    assert response.status == 400
    for word in INTERNALS:
        assert word not in response.text, word
