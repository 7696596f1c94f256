"""WebSocket routes of every app."""

from chat.routing import websocket_urlpatterns as chat_routes
from notifications.routing import websocket_urlpatterns as notification_routes

websocket_urlpatterns = [*notification_routes, *chat_routes]
