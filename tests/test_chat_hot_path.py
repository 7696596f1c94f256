"""The chat's hot path (chat/hot_path.py, issue 13): one statement per message, `busy` at capacity."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import hot_path, services
from chat.models import Message
from tests.test_chat_consumer import connect, drain, frames_until, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def active(franchisee, agent):
    conversation = services.start_conversation(franchisee=franchisee, topic="El datáfono no conecta")
    return services.accept_conversation(conversation_id=conversation.pk, agent=agent)


async def test_at_capacity_a_message_is_refused_busy_and_nothing_is_stored(active, franchisee, monkeypatch):
    comm = await connect(franchisee, active.pk)
    await drain(comm)
    monkeypatch.setattr(hot_path, "MAX_INFLIGHT", 0)
    await send(comm, body="¿hay alguien?", client_id="busy-1")
    error = (await frames_until(comm, "error"))[-1]
    assert error["code"] == "busy"
    assert not await database_sync_to_async(Message.objects.filter(client_id="busy-1").exists)()
    monkeypatch.setattr(hot_path, "MAX_INFLIGHT", 48)  # capacity again: the outbox's resend is stored
    await send(comm, body="¿hay alguien?", client_id="busy-1")
    message = (await frames_until(comm, "message"))[-1]
    assert message["client_id"] == "busy-1"
    await comm.disconnect()


def test_a_message_is_one_statement_after_the_first(active, franchisee, settings):
    """The socket's snapshot is taken once; each message is then the one statement (no refusal,
    everyone viewing: no notification work)."""
    settings.CHAT_RATE_LIMIT_MESSAGES = 1000
    from chat.presence import enter, viewer_key

    enter(viewer_key(active.pk, active.agent_id))
    from accounts.socket_auth import grant_for

    scope = {"user": franchisee, "session": type("S", (), {"session_key": _session_key(franchisee)})()}
    code, snapshot = hot_path.take_snapshot(grant_for(scope))
    assert code is None
    with CaptureQueriesContext(connection) as queries:
        stored = hot_path.store(snapshot, franchisee, active.pk, "hola", "q-1", [active.agent_id])
    assert stored.created and stored.frame["body"] == "hola"
    assert len(queries.captured_queries) == 1
    again = hot_path.store(snapshot, franchisee, active.pk, "hola", "q-1", [active.agent_id])
    assert not again.created and again.frame["id"] == stored.frame["id"]  # idempotent by client_id


def _session_key(user) -> str:
    from tests.servers import session_cookie

    return session_cookie(user)
