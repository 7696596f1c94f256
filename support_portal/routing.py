"""WebSocket routes of every app, and a last route that closes any other path with 4404."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from assist.routing import websocket_urlpatterns as assist_routes
from chat.routing import websocket_urlpatterns as chat_routes
from notifications.routing import websocket_urlpatterns as notification_routes

NOT_FOUND = 4404


class UnknownPath(AsyncWebsocketConsumer):
    """Any path no app serves (`/ws/other/`, `/ws/chat/1` without the slash): accept, close 4404.

    Without it Channels' URLRouter raises "No route found" and Daphne answers HTTP 500 with a
    traceback in the log, before any login is checked. Nothing is read and no layer is used.
    """

    channel_layer_alias = "unknown-path-needs-no-layer"  # unknown alias: no layer, no Redis round trip

    async def connect(self) -> None:
        await self.accept()  # a close before accept would be a bare handshake 403
        await self.close(code=NOT_FOUND)


websocket_urlpatterns = [*notification_routes, *chat_routes, *assist_routes, re_path(r"", UnknownPath.as_asgi())]
