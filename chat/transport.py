"""WebSocket transport settings of Daphne that Daphne has no option for.

Daphne refuses client messages above its `--websocket-max-message-size` (1 MiB by default)
through autobahn, whose default `failByDrop=True` then drops the TCP connection: the browser
sees 1006 ("abnormal closure") and retries the same message forever. With `failByDrop=False`
autobahn performs the closing handshake with the code of the failure instead: 1009 (message too
big), 1007 (invalid UTF-8), 1002 (protocol error). Applied from ChatConfig.ready() in a process
that runs Daphne (the Daphne CLI imports `daphne.server` before it loads the application).
"""

from __future__ import annotations

import sys


def close_failed_connections_cleanly() -> bool:
    """Make Daphne's WebSocket factory close failed connections with a close frame; True if applied."""
    if "daphne.server" not in sys.modules:
        return False
    from daphne.ws_protocol import WebSocketFactory

    if getattr(WebSocketFactory, "portal_fail_by_close", False):
        return True
    original_init = WebSocketFactory.__init__

    def __init__(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)  # Daphne's own options are set after this

    WebSocketFactory.__init__ = __init__
    WebSocketFactory.portal_fail_by_close = True
    return True
