"""The WebSocket Origin check compares scheme, host and port with the site's own origins
(issue 11): a page on another port or scheme of the same host cannot open an authenticated socket."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from support_portal.asgi import application
from support_portal.websocket_origin import origin_allowed, parse_origin
from tests.servers import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def scope(origin: str | None, host: str | None = "127.0.0.1:8000", **extra_headers: str) -> dict:
    headers = [(name.replace("_", "-").encode(), value.encode()) for name, value in extra_headers.items()]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))
    return {"type": "websocket", "headers": headers}


@pytest.fixture
def site(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "soporte.example"]
    settings.SITE_URL = "https://soporte.example"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.franquicias.example"]
    settings.SECURE_PROXY_SSL_HEADER = None
    return settings


def test_parse_origin_normalises_default_ports_and_case():
    assert parse_origin("HTTP://Example.COM") == ("http", "example.com", 80)
    assert parse_origin("https://example.com:443") == ("https", "example.com", 443)
    assert parse_origin("http://[::1]:8000") == ("http", "[::1]", 8000)
    for bad in ("null", "", "ftp://example.com", "http://", "http://x:99999", "http://u:p@example.com"):
        assert parse_origin(bad) is None, bad


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),  # same origin
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port of the same host
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),  # another scheme
        ("http://127.0.0.1", "127.0.0.1", True),  # default port on both sides
        ("http://127.0.0.1:80", "127.0.0.1", True),
        ("http://evil.example:8000", "evil.example:8000", False),  # Host not in ALLOWED_HOSTS
        ("http://127.0.0.1.evil.example:8000", "127.0.0.1:8000", False),
        ("https://soporte.example", "127.0.0.1:8000", True),  # SITE_URL
        ("http://soporte.example", "127.0.0.1:8000", False),  # SITE_URL is https only
        ("https://soporte.example:8443", "127.0.0.1:8000", False),
        ("https://a.franquicias.example", "127.0.0.1:8000", True),  # CSRF_TRUSTED_ORIGINS wildcard
        ("https://franquicias.example.evil", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        (None, "127.0.0.1:8000", False),
    ],
)
def test_origin_rule(site, origin, host, allowed):
    assert origin_allowed(scope(origin, host)) is allowed


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(site):
    site.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(scope("https://127.0.0.1:8000", "127.0.0.1:8000", x_forwarded_proto="https"))
    assert not origin_allowed(scope("http://127.0.0.1:8000", "127.0.0.1:8000", x_forwarded_proto="https"))
    assert origin_allowed({**scope("https://127.0.0.1", "127.0.0.1"), "scheme": "wss"})


async def _close_code_or_open(origin: str, user) -> str:
    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"origin", origin.encode()), (b"cookie", f"sessionid={cookie}".encode()), (b"host", b"127.0.0.1:8000")]
    comm = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    if await comm.receive_nothing(timeout=0.3):
        await comm.disconnect()
        return "open"
    output = await comm.receive_output(timeout=1)
    assert output["type"] == "websocket.close"
    return str(output["code"])


@pytest.mark.parametrize(
    ("origin", "outcome"),
    [
        ("http://127.0.0.1:8000", "open"),
        ("http://127.0.0.1:9999", "4403"),
        ("https://127.0.0.1:8000", "4403"),
        ("http://localhost:8000", "4403"),
    ],
)
async def test_an_authenticated_socket_from_another_port_is_closed_4403(site, franchisee, origin, outcome):
    assert await _close_code_or_open(origin, franchisee) == outcome
