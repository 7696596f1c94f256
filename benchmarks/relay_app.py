"""Baseline for benchmarks/chat_load.py: a bare Channels relay on the same Redis channel layer.

No authentication, no database, no validation: every text frame a socket sends on
/ws/relay/<room>/ is group_sent to the room and forwarded verbatim to every socket in it. Any
HTTP request answers 200 (readiness probe). Serve with
`REDIS_URL=redis://… daphne benchmarks.relay_app:application`.
"""

import os

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # above the layer's 5 s blocking receive (redis-py 8 defaults to 5 s: channels_redis#422)
                    "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 30}],
                    "capacity": 1500,
                    "expiry": 30,
                },
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.room = f"relay.{self.scope['url_route']['kwargs']['room']}"
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.room, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.channel_layer.group_send(self.room, {"type": "relay.frame", "text": text_data})

    async def relay_frame(self, event: dict) -> None:
        await self.send(text_data=event["text"])


async def ok(scope, receive, send) -> None:
    """Plain HTTP: 200 to everything (readiness probe)."""
    if scope["type"] == "lifespan":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": ok,
        "websocket": URLRouter([path("ws/relay/<str:room>/", RelayConsumer.as_asgi())]),
    }
)
