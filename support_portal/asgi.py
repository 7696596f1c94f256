"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets pass the origin check (Origin must match ALLOWED_HOSTS, else close 4403) and
session authentication before reaching a consumer.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from support_portal.routing import websocket_urlpatterns  # noqa: E402
from support_portal.websocket_origin import AllowedHostsOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
