"""Collision detection: /ws/tickets/<id>/presence/ tells the agents on a ticket who else is
viewing it and who is writing a reply, live; agents only, for the life of the socket."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.services import save_user
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers
from tests.tickets_factories import make_ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee)


async def open_socket(user, ticket_id):
    cookie = await database_sync_to_async(session_cookie)(user) if user else "nope"
    comm = WebsocketCommunicator(
        application, f"/ws/tickets/{ticket_id}/presence/", headers=ws_headers(cookie, "http://127.0.0.1")
    )
    connected, _ = await comm.connect(timeout=3)
    assert connected
    return comm


async def viewers_until(comm, predicate, timeout=5) -> list[dict]:
    """Read `viewers` frames until one satisfies `predicate`; return its list."""
    while True:
        frame = json.loads(await comm.receive_from(timeout=timeout))
        assert frame["type"] == "viewers", frame
        if predicate(frame["viewers"]):
            return frame["viewers"]


async def closed_with(comm) -> int:
    output = await comm.receive_output(timeout=3)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def test_agents_see_each_other_and_who_is_writing(ticket, agent, agent2):
    ana = await open_socket(agent, ticket.pk)
    assert await viewers_until(ana, lambda v: True) == []  # alone
    bea = await open_socket(agent2, ticket.pk)
    seen = await viewers_until(bea, lambda v: len(v) == 1)  # the newcomer learns who is there
    assert seen == [{"id": agent.pk, "name": "Ana", "typing": False}]
    assert await viewers_until(ana, lambda v: len(v) == 1) == [{"id": agent2.pk, "name": "Bea", "typing": False}]

    await bea.send_json_to({"type": "typing"})
    assert await viewers_until(ana, lambda v: v and v[0]["typing"]) == [
        {"id": agent2.pk, "name": "Bea", "typing": True}
    ]
    await bea.send_json_to({"type": "idle"})
    assert (await viewers_until(ana, lambda v: v and not v[0]["typing"]))[0]["id"] == agent2.pk

    await bea.disconnect()
    assert await viewers_until(ana, lambda v: v == []) == []
    await ana.disconnect()


async def test_the_same_agent_in_two_tabs_is_not_a_colleague(ticket, agent):
    first = await open_socket(agent, ticket.pk)
    await viewers_until(first, lambda v: True)
    second = await open_socket(agent, ticket.pk)
    assert await viewers_until(second, lambda v: True) == []
    assert await first.receive_nothing(timeout=0.3)
    await first.disconnect()
    await second.disconnect()


async def test_presence_is_per_ticket(franchisee, agent, agent2):
    one = await database_sync_to_async(make_ticket)(franchisee)
    two = await database_sync_to_async(make_ticket)(franchisee, subject="Otro")
    ana = await open_socket(agent, one.pk)
    await viewers_until(ana, lambda v: True)
    bea = await open_socket(agent2, two.pk)
    assert await viewers_until(bea, lambda v: True) == []
    assert await ana.receive_nothing(timeout=0.3)
    await ana.disconnect()
    await bea.disconnect()


async def test_franchisees_and_unknown_tickets_are_refused(ticket, franchisee, other_franchisee, agent):
    for user, ticket_id, code in (
        (None, ticket.pk, 4401),
        (franchisee, ticket.pk, 4404),  # agents only
        (other_franchisee, ticket.pk, 4404),
        (agent, 999_999, 4404),
    ):
        comm = await open_socket(user, ticket_id)
        assert await closed_with(comm) == code, (user, ticket_id)


async def test_bad_frames_get_an_error_and_the_socket_stays(ticket, agent):
    ana = await open_socket(agent, ticket.pk)
    await viewers_until(ana, lambda v: True)
    for text in ("not json", json.dumps({"type": "nope"}), json.dumps([1])):
        await ana.send_to(text_data=text)
        frame = json.loads(await ana.receive_from(timeout=3))
        assert frame["type"] == "error" and frame["code"] == "invalid"
    await ana.send_json_to({"type": "typing"})  # still works
    await ana.disconnect()


async def test_a_demoted_agent_loses_the_socket(ticket, agent):
    ana = await open_socket(agent, ticket.pk)
    await viewers_until(ana, lambda v: True)
    await database_sync_to_async(save_user)(username=agent.username, role="franchisee", franchise=ticket.franchise)
    assert await closed_with(ana) == 4403
