from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from chat.consumers import ChatConsumer

websocket_urlpatterns: list = [
    path("ws/chat/<id:conversation_id>/", ChatConsumer.as_asgi()),
]
