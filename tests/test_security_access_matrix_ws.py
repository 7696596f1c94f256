"""The access matrix's WebSocket routes (tests/access_matrix.py WS_MATRIX) against the real ASGI
application: every role's close code or accepted socket, and a foreign Origin refused.

Apart from the HTTP checks (tests/test_security_access_matrix.py) because these are transactional
(the consumers read the world from other threads, so it is committed and flushed after each test)
while those share one world per module inside a rolled-back transaction.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from support_portal.asgi import application
from tests.access_matrix import FOREIGN_ORIGIN_CLOSE, ROLES, WS_MATRIX
from tests.access_world import World, build_world
from tests.servers import session_cookie, ws_headers


@pytest.fixture
def world(transactional_db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_world()


async def _ws_outcome(path: str, user, origin: str = "http://127.0.0.1") -> str:
    cookie = await database_sync_to_async(session_cookie)(user) if user is not None else "no-session"
    communicator = WebsocketCommunicator(application, path, headers=ws_headers(cookie, origin))
    connected, _ = await communicator.connect(timeout=3)
    if not connected:
        return "refused"
    # A consumer handles one event at a time, and decides in its connect handler (it accepts
    # first, then checks the session and the row): a disconnect sent now is handled after that
    # handler, so the socket stayed open if the application ends with no close in its output.
    # (A 0.3 s quiet window read a close that came later, on a loaded machine, as "open".) A
    # consumer that closed itself does not end (it waits in its channel layer): its close is read.
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ended = communicator.future.done()  # before looking at the queue: all it sent is in there
        if not communicator.output_queue.empty():
            output = await communicator.receive_output(timeout=1)
            if output["type"] == "websocket.close":
                return str(output.get("code"))
            json.loads(output["text"])  # every frame is JSON
        elif ended:
            communicator.future.result()  # an exception of the consumer fails the test
            return "open"
        else:
            await asyncio.sleep(0.01)  # poll interval of the wait for the consumer
    raise AssertionError(f"{path}: the consumer neither closed nor ended in 30 s")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(WS_MATRIX))
async def test_websocket_route_gives_each_role_its_outcome(world, route):
    rule = WS_MATRIX[route]
    path = world.url(rule)
    failures = []
    for role in ROLES:
        outcome = await _ws_outcome(path, world.users[role])
        if outcome != rule.expected("GET")[role]:
            failures.append(f"{path} as {role}: expected {rule.expected('GET')[role]}, got {outcome}")
    foreign = await _ws_outcome(path, world.users["owner"], origin="https://evil.example")
    if foreign != FOREIGN_ORIGIN_CLOSE:
        failures.append(f"{path} from a foreign Origin: expected {FOREIGN_ORIGIN_CLOSE}, got {foreign}")
    assert not failures, "\n".join(failures)
