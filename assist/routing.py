from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from assist.consumers import TicketPresenceConsumer

websocket_urlpatterns: list = [
    path("ws/tickets/<id:ticket_id>/presence/", TicketPresenceConsumer.as_asgi()),
]
