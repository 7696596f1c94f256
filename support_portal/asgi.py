"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets pass the origin check (Origin must match ALLOWED_HOSTS, else close 4403) and
session authentication (support_portal.socket_session) before reaching a consumer.
"""

import os
import sys
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.cache import caches  # noqa: E402

from support_portal.routing import websocket_urlpatterns  # noqa: E402
from support_portal.socket_session import SocketSessionMiddleware  # noqa: E402
from support_portal.websocket_origin import AllowedHostsOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(SocketSessionMiddleware(URLRouter(websocket_urlpatterns))),
    }
)


def _share_the_cache_client() -> None:
    """Create the cache clients here, in the context every task of the server inherits.

    Django keeps them in an asgiref `Local`, which on the event loop is per *context*: a socket's
    task whose first cache call ran through `sync_to_async` (the stamp read, presence), whose
    context changes are copied back into the task, got a cache backend of its own and kept it
    for the socket's life — per idle socket a Redis connection pool with an open Redis
    connection, and a fallback cache (≈ 12 KB and one Redis client per socket, and one Redis
    connect per socket opened; issue 13). Created once here, the tasks share it: redis-py's pool
    is thread-safe. (Database wrappers are thread-critical Locals, one per thread as always;
    the consumers do not touch `connection` on the event loop: support_portal.socket_threads.)
    """
    for alias in caches:
        caches[alias]  # created in this, the main, context


_share_the_cache_client()


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


def _protocol_options_from_the_factory() -> None:
    """autobahn copies its 29 protocol options from the factory onto every connection (only those
    the protocol does not have already); read them from the factory instead. Per idle socket that
    is 29 entries less in the protocol's `__dict__` (issue 13). An option set on one connection
    (autobahn's `setTrackTimings`) is still that connection's own."""
    from daphne.ws_protocol import WebSocketProtocol

    def option(name: str) -> property:
        def get(self):
            try:
                return self.__dict__[name]
            except KeyError:
                return getattr(self.factory, name)

        def put(self, value) -> None:
            self.__dict__[name] = value

        return property(get, put)

    for name in WebSocketProtocol.CONFIG_ATTRS:
        if name not in WebSocketProtocol.__dict__:
            setattr(WebSocketProtocol, name, option(name))


if "daphne.server" in sys.modules:  # served by Daphne (its module installs the Twisted reactor)
    from twisted.internet import reactor

    _protocol_options_from_the_factory()

    reactor.addSystemEventTrigger("after", "shutdown", _end_a_stuck_exit)
