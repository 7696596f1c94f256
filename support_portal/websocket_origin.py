"""Origin check for WebSockets that answers with a close code instead of a bare 403.

Channels' stock `AllowedHostsOriginValidator` refuses a bad Origin at the handshake (HTTP 403),
so the browser only sees "connection failed". DESIGN.md asks for close code 4403 on both
socket endpoints: this validator runs the same ALLOWED_HOSTS check and, for a foreign or
missing Origin, accepts the socket only to close it at once with 4403 (nothing is sent and
no consumer runs).
"""

from urllib.parse import urlparse

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import OriginValidator
from django.conf import settings

FORBIDDEN_ORIGIN = 4403


class ForbiddenOrigin(AsyncWebsocketConsumer):
    """Accept, then close with 4403 (a close before accept would be a handshake 403)."""

    channel_layer_alias = "refused-origin-needs-no-layer"  # unknown alias: no layer, no Redis round trip

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=FORBIDDEN_ORIGIN)


class CloseCodeOriginValidator(OriginValidator):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("CloseCodeOriginValidator only guards WebSocket connections")
        parsed_origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    parsed_origin = urlparse(value.decode("latin1"))
                except UnicodeDecodeError:
                    parsed_origin = None
        if self.valid_origin(parsed_origin):
            return await self.application(scope, receive, send)
        return await ForbiddenOrigin()(scope, receive, send)


def AllowedHostsOriginValidator(application):
    """Drop-in for channels.security.websocket.AllowedHostsOriginValidator, closing with 4403."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return CloseCodeOriginValidator(application, allowed_hosts)
