"""Origin check for WebSockets: the page that opens a socket must be one of the site's own origins.

An origin is scheme + host + port. Allowed (docs/SECURITY.md "WebSocket origin"):
- the socket's own origin: the `Host` it was opened to (which must pass `ALLOWED_HOSTS`), with
  `https` when the socket is `wss` or the proxy says so (`SECURE_PROXY_SSL_HEADER`), else `http`
  — the browser's same-origin case, also behind a proxy that passes `Host` on;
- `SITE_URL` and every entry of `CSRF_TRUSTED_ORIGINS` (`https://*.example.com` allows subdomains),
  exactly as Django's CSRF check reads them.
So a page on another port or scheme of the same host is refused. Channels' stock validator
compares only the host name and refuses at the handshake (HTTP 403), so the browser only sees
"connection failed"; this one accepts the socket only to close it at once with 4403 (nothing is
sent and no consumer runs).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

FORBIDDEN_ORIGIN = 4403
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, lower-case host (IPv6 in brackets), port


class ForbiddenOrigin(AsyncWebsocketConsumer):
    """Accept, then close with 4403 (a close before accept would be a handshake 403)."""

    channel_layer_alias = "refused-origin-needs-no-layer"  # unknown alias: no layer, no Redis round trip

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=FORBIDDEN_ORIGIN)


def parse_origin(value: str) -> Origin | None:
    """`scheme://host[:port]` → (scheme, host, port); None for `null`, paths, other schemes."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]  # Django's own DEBUG default
    return hosts


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _is_secure(scope: dict) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, expected = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        value = _header(scope, name)
        return value is not None and value.split(",")[0].strip() == expected
    return False


def own_origin(scope: dict) -> Origin | None:
    """The origin the socket was opened to, from its Host header (None if not an allowed host)."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, port = split_domain_port(host.lower())
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    scheme = "https" if _is_secure(scope) else "http"
    if domain.count(":") > 1 and not domain.startswith("["):
        domain = f"[{domain}]"
    return scheme, domain, int(port) if port.isdigit() else DEFAULT_PORTS[scheme]


def configured_origins() -> list[str]:
    """SITE_URL and CSRF_TRUSTED_ORIGINS: the site's origins named in the settings."""
    site = getattr(settings, "SITE_URL", "")
    return [value for value in [site, *settings.CSRF_TRUSTED_ORIGINS] if value]


def _matches(origin: Origin, allowed: str) -> bool:
    if "://*." in allowed:  # Django's wildcard form: any subdomain, same scheme and port
        pattern = parse_origin(allowed.replace("://*.", "://", 1))
        return pattern is not None and (
            origin[0] == pattern[0] and origin[2] == pattern[2] and origin[1].endswith("." + pattern[1])
        )
    return parse_origin(allowed) == origin


def origin_allowed(scope: dict) -> bool:
    value = _header(scope, b"origin")
    origin = parse_origin(value) if value else None
    if origin is None:
        return False
    if origin == own_origin(scope):
        return True
    return any(_matches(origin, allowed) for allowed in configured_origins())


class CloseCodeOriginValidator:
    """ASGI middleware: sockets from a foreign (or missing) Origin are closed with 4403."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("CloseCodeOriginValidator only guards WebSocket connections")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await ForbiddenOrigin()(scope, receive, send)


def AllowedHostsOriginValidator(application):
    """Drop-in for channels.security.websocket.AllowedHostsOriginValidator, closing with 4403."""
    return CloseCodeOriginValidator(application)
