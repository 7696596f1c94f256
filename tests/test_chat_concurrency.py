"""Concurrent accept: two agents, two real transactions, exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chat import services
from chat.models import Conversation
from tests.conftest import require_env


def race(conversation_id: int, agents) -> list:
    """Both agents accept at the same moment, each in its own thread and DB connection."""
    barrier = threading.Barrier(len(agents))
    results: list = [None] * len(agents)

    def attempt(index: int, agent) -> None:
        barrier.wait()
        try:
            results[index] = services.accept_conversation(conversation_id=conversation_id, agent=agent)
        except services.AlreadyTaken as error:
            results[index] = error
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i, a)) for i, a in enumerate(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def check_exactly_one_wins(franchisee, agent, agent2) -> None:
    for round_ in range(5):
        conversation = services.start_conversation(franchisee=franchisee, topic=f"Carrera {round_}")
        results = race(conversation.pk, [agent, agent2])
        winners = [r for r in results if isinstance(r, Conversation)]
        losers = [r for r in results if isinstance(r, services.AlreadyTaken)]
        assert len(winners) == 1, results
        assert len(losers) == 1, results
        conversation.refresh_from_db()
        assert conversation.agent_id == winners[0].agent_id
        assert losers[0].agent.pk == conversation.agent_id  # the loser is told who took it
        assert conversation.messages.filter(kind="system", body__contains="se ha unido").count() == 1
        services.close_conversation(conversation_id=conversation.pk, actor=franchisee)


@pytest.mark.django_db
def test_second_accept_is_refused_and_names_the_taker(franchisee, agent, agent2):
    """Sequential form of the race (the threaded one needs PostgreSQL: SQLite's in-memory test
    database locks whole tables in shared-cache mode instead of waiting)."""
    conversation = services.start_conversation(franchisee=franchisee, topic="Carrera")
    services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    with pytest.raises(services.AlreadyTaken) as refused:
        services.accept_conversation(conversation_id=conversation.pk, agent=agent2)
    assert refused.value.agent == agent
    assert agent.display_name in refused.value.detail


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_accept_on_postgresql(franchisee, agent, agent2):
    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")
    check_exactly_one_wins(franchisee, agent, agent2)
