"""Project-wide HTTP middleware."""

import contextlib
from collections.abc import Callable
from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from support_portal.websocket_origin import configured_origins

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # plus the site's own ws(s):// origins, per request (connect_sources)
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def connect_sources(request: HttpRequest) -> list[str]:
    """'self' and the WebSocket forms of the site's origins: this request's host (validated by
    ALLOWED_HOSTS), SITE_URL and CSRF_TRUSTED_ORIGINS — the origins the socket check accepts."""
    sources = ["'self'"]
    with contextlib.suppress(DisallowedHost):  # a bad Host gets only 'self'
        sources.append(f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}")
    for origin in configured_origins():
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc:
            sources.append(f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}")
    return list(dict.fromkeys(sources))


def policy_for(request: HttpRequest) -> str:
    """CONTENT_SECURITY_POLICY with connect-src narrowed to the site's own socket origins."""
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", "connect-src " + " ".join(connect_sources(request)))


class ContentSecurityPolicyMiddleware:
    """Send a strict Content-Security-Policy: no inline scripts, nothing from other origins."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy_for(request))
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class UserTimeZoneMiddleware:
    """Activate the signed-in user's time zone (support_portal.times) for the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from support_portal.times import time_zone_of

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(time_zone_of(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
