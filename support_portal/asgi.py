"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets pass the origin check (Origin must match ALLOWED_HOSTS, else close 4403) and
session authentication before reaching a consumer.
"""

import os
import sys
import threading

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


# Daphne's SIGTERM could hang until SIGKILL: a request still in flight has a worker thread waiting
# (async_to_sync, at the innermost sync middleware) for the event loop that shutdown has just
# stopped, and the interpreter's exit joins that thread forever. Once Twisted's shutdown is over
# (the application instances are cancelled, connections closed), a daemon watchdog ends such a
# stuck exit; a normal exit does not wait for it (daemon threads end with the interpreter).
EXIT_GRACE_SECONDS = 2.0


def _end_a_stuck_exit() -> None:
    def watchdog() -> None:
        threading.Event().wait(EXIT_GRACE_SECONDS)
        sys.stderr.write("shutdown: a request thread still waits for the stopped event loop; exiting\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    threading.Thread(target=watchdog, name="exit-watchdog", daemon=True).start()


if "daphne.server" in sys.modules:  # served by Daphne (its module installs the Twisted reactor)
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("after", "shutdown", _end_a_stuck_exit)
