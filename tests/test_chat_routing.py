"""Agent availability, presence and chat routing (docs/CHAT.md "Availability and routing")."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import save_user
from chat import dispatch, presence, selectors, services
from chat.models import AgentAvailability, Conversation
from notifications.models import Notification
from notifications.services import user_group
from tests.conftest import PASSWORD
from tickets.models import Category

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def available(*agents, capacity: int | None = None) -> None:
    """Agents with a socket open who said they are available."""
    for agent in agents:
        presence.agent_connected(agent.pk)
        AgentAvailability.objects.update_or_create(
            agent=agent, defaults={"status": "available", "chat_capacity": capacity}
        )


def start(franchisee, topic: str, capture) -> Conversation:
    with capture(execute=True):
        conversation = services.start_conversation(franchisee=franchisee, topic=topic)
    conversation.refresh_from_db()
    return conversation


def close(conversation, actor, capture) -> None:
    with capture(execute=True):
        services.close_conversation(conversation_id=conversation.pk, actor=actor)


# --- POST /agent/availability/ ----------------------------------------------------------------


def test_agent_sets_available_and_away(agent_client, agent):
    response = agent_client.post("/agent/availability/", {"status": "available", "next": "/chat/"})
    assert response.status_code == 302
    assert response["Location"] == "/chat/"
    assert AgentAvailability.objects.get(agent=agent).status == "available"
    answer = agent_client.post("/agent/availability/", {"status": "away"}, headers={"Accept": "application/json"})
    assert answer.json() == {"status": "away", "capacity": 3}
    assert AgentAvailability.objects.get(agent=agent).status == "away"


def test_availability_is_404_for_franchisees_and_refuses_bad_values(franchisee_client, agent_client, agent):
    assert franchisee_client.post("/agent/availability/", {"status": "available"}).status_code == 404
    assert Client().post("/agent/availability/", {"status": "available"}).status_code == 302  # to the login
    bad = agent_client.post("/agent/availability/", {"status": "busy"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400
    assert not AgentAvailability.objects.filter(agent=agent, status="busy").exists()
    assert agent_client.get("/agent/availability/").status_code == 405


def test_dashboard_shows_the_toggle_with_the_current_state(agent_client, agent):
    page = agent_client.get("/agent/").content.decode()
    assert 'id="chat-availability"' in page
    assert 'value="available"' in page and "Ponerme disponible" in page
    dispatch.set_availability(agent=agent, status="available")
    page = agent_client.get("/agent/").content.decode()
    assert "Ponerme ausente" in page and 'value="away"' in page


def test_default_capacity_setting(settings, agent):
    settings.CHAT_DEFAULT_CAPACITY = 5
    assert selectors.availability_of(agent).capacity == 5
    AgentAvailability.objects.create(agent=agent, chat_capacity=2)
    assert selectors.availability_of(agent).capacity == 2


# --- presence ---------------------------------------------------------------------------------


def test_agent_online_only_while_a_socket_is_open(agent):
    assert presence.online_agent_ids([agent.pk]) == set()
    presence.agent_connected(agent.pk)
    presence.agent_connected(agent.pk)
    presence.agent_disconnected(agent.pk)
    assert presence.online_agent_ids([agent.pk]) == {agent.pk}
    presence.agent_disconnected(agent.pk)
    assert presence.online_agent_ids([agent.pk]) == set()


def test_presence_expires_when_a_process_dies(agent):
    """A crashed process never says goodbye: the key's TTL forgets the agent."""
    from django.core.cache import cache

    presence.agent_connected(agent.pk)
    cache.touch(presence.agent_key(agent.pk), 1)  # as if the last heartbeat was PRESENCE_TTL - 1 s ago
    deadline = time.monotonic() + 30
    while presence.online_agent_ids([agent.pk]) and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval
    assert presence.online_agent_ids([agent.pk]) == set()


def test_online_and_offline_transitions_are_signalled_once(agent):
    seen = []

    def record(sender, user_id, **kwargs):
        seen.append(user_id)

    presence.agent_online.connect(record)
    presence.agent_offline.connect(record)
    try:
        presence.agent_connected(agent.pk)
        presence.agent_connected(agent.pk)  # a second tab: no transition
        presence.agent_disconnected(agent.pk)
        assert seen == [agent.pk]
        presence.agent_disconnected(agent.pk)
        assert seen == [agent.pk, agent.pk]
    finally:
        presence.agent_online.disconnect(record)
        presence.agent_offline.disconnect(record)


# --- routing ----------------------------------------------------------------------------------


def test_new_chat_goes_at_once_to_an_available_online_agent(franchisee, agent, django_capture_on_commit_callbacks):
    available(agent)
    conversation = start(franchisee, "No puedo cobrar", django_capture_on_commit_callbacks)
    assert (conversation.status, conversation.agent_id) == ("active", agent.pk)
    assert conversation.accepted_at is not None
    bodies = list(conversation.messages.values_list("body", flat=True))
    assert bodies == ["Chat iniciado: «No puedo cobrar».", "Ana se ha unido al chat."]  # as after an accept
    assert Notification.objects.filter(recipient=franchisee, kind="chat_accepted").count() == 1
    told = Notification.objects.get(recipient=agent)
    assert told.title == "Te han asignado un chat: No puedo cobrar"
    assert told.url == f"/chat/{conversation.pk}/"


def test_the_routed_chat_sends_the_same_frames_as_an_accept(franchisee, agent, django_capture_on_commit_callbacks):
    from unittest import mock

    available(agent)
    with mock.patch("chat.services.push_to_group") as pushed, mock.patch("chat.services.push_to_agents") as queue:
        start(franchisee, "Frames", django_capture_on_commit_callbacks)
    frames = [call.args[1] for call in pushed.call_args_list]
    assert [f["type"] for f in frames] == ["message", "conversation", "message"]
    assert frames[1]["status"] == "active" and frames[1]["agent"]["id"] == agent.pk
    assert [c.args[0]["event"] for c in queue.call_args_list] == ["added", "taken"]


@pytest.mark.parametrize("state", ["away", "offline", "inactive"])
def test_nobody_available_leaves_the_chat_waiting(franchisee, agent, state, django_capture_on_commit_callbacks):
    if state == "away":
        presence.agent_connected(agent.pk)
        AgentAvailability.objects.create(agent=agent, status="away")
    elif state == "offline":
        AgentAvailability.objects.create(agent=agent, status="available")  # no socket open
    else:
        available(agent)
        agent.is_active = False
        agent.save()
    conversation = start(franchisee, "Espera", django_capture_on_commit_callbacks)
    assert conversation.status == "waiting"
    # manual accept still works
    accepted = services.accept_conversation(
        conversation_id=conversation.pk, agent=save_user(username="manual", role="agent", password=PASSWORD)[0]
    )
    assert accepted.status == "active"


def test_fewest_active_chats_wins(franchisee, agent, agent2, django_capture_on_commit_callbacks):
    available(agent, agent2)
    first = start(franchisee, "Uno", django_capture_on_commit_callbacks)
    assert first.agent_id == agent.pk  # tie: lowest id
    second = start(franchisee, "Dos", django_capture_on_commit_callbacks)
    assert second.agent_id == agent2.pk
    third = start(franchisee, "Tres", django_capture_on_commit_callbacks)
    assert third.agent_id == agent.pk


def test_capacity_is_respected_and_a_freed_slot_takes_the_oldest_waiting(
    franchisee, agent, django_capture_on_commit_callbacks
):
    available(agent, capacity=1)
    first = start(franchisee, "Primero", django_capture_on_commit_callbacks)
    second = start(franchisee, "Segundo", django_capture_on_commit_callbacks)
    third = start(franchisee, "Tercero", django_capture_on_commit_callbacks)
    assert first.status == "active"
    assert (second.status, third.status) == ("waiting", "waiting")
    close(first, agent, django_capture_on_commit_callbacks)
    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.status, second.agent_id) == ("active", agent.pk)  # the oldest one
    assert third.status == "waiting"


def test_default_capacity_is_three(franchisee, agent, django_capture_on_commit_callbacks):
    available(agent)
    chats = [start(franchisee, f"Chat {n}", django_capture_on_commit_callbacks) for n in range(4)]
    assert [c.status for c in chats] == ["active", "active", "active", "waiting"]


def test_becoming_available_routes_the_oldest_waiting_chats(
    franchisee, agent_client, agent, django_capture_on_commit_callbacks
):
    older = start(franchisee, "Antiguo", django_capture_on_commit_callbacks)
    newer = start(franchisee, "Nuevo", django_capture_on_commit_callbacks)
    presence.agent_connected(agent.pk)
    AgentAvailability.objects.create(agent=agent, chat_capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post("/agent/availability/", {"status": "available"})
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.agent_id) == ("active", agent.pk)
    assert newer.status == "waiting"


def test_coming_online_while_available_routes_waiting_chats(franchisee, agent, django_capture_on_commit_callbacks):
    AgentAvailability.objects.create(agent=agent, status="available")
    waiting = start(franchisee, "Nadie conectado", django_capture_on_commit_callbacks)
    assert waiting.status == "waiting"
    with django_capture_on_commit_callbacks(execute=True):
        presence.agent_connected(agent.pk)  # what the chat and notification sockets call
    waiting.refresh_from_db()
    assert (waiting.status, waiting.agent_id) == ("active", agent.pk)


def test_transfer_frees_the_previous_agents_slot(franchisee, agent, agent2, django_capture_on_commit_callbacks):
    available(agent, capacity=1)
    first = start(franchisee, "Transferido", django_capture_on_commit_callbacks)
    queued = start(franchisee, "En cola", django_capture_on_commit_callbacks)
    assert queued.status == "waiting"
    with django_capture_on_commit_callbacks(execute=True):
        services.transfer_conversation(conversation_id=first.pk, actor=agent, to_agent=agent2)
    queued.refresh_from_db()
    assert (queued.status, queued.agent_id) == ("active", agent.pk)


def test_away_agent_gets_no_more_chats(franchisee, agent, agent2, django_capture_on_commit_callbacks):
    available(agent, agent2)
    dispatch.set_availability(agent=agent, status="away")
    assert start(franchisee, "A Bea", django_capture_on_commit_callbacks).agent_id == agent2.pk


def test_category_agents_are_preferred_for_a_matching_topic(
    franchisee, agent, agent2, django_capture_on_commit_callbacks
):
    printers = Category.objects.create(name="Impresoras", slug="impresoras")
    printers.agents.add(agent2)
    available(agent, agent2)
    matching = start(franchisee, "La impresora del TPV no imprime", django_capture_on_commit_callbacks)
    assert matching.agent_id == agent2.pk  # skilled, although agent has the lower id
    other = start(franchisee, "No puedo entrar", django_capture_on_commit_callbacks)
    assert other.agent_id == agent.pk  # no category named: fewest chats
    Category.objects.filter(pk=printers.pk).update(name_en="Printers")
    english = start(franchisee, "My printer is jammed", django_capture_on_commit_callbacks)
    assert english.agent_id == agent2.pk  # the category's English name counts too


@pytest.mark.parametrize(
    ("topic", "name", "expected"),
    [
        ("La impresora no imprime", "Impresoras", True),
        ("problema de FACTURACION", "Facturación", True),
        ("El datáfono", "Datáfonos y TPV", False),
        ("datafono y tpv caídos", "Datáfonos y TPV", True),
        ("Hola", "", False),
    ],
)
def test_topic_matches_category(topic, name, expected):
    assert dispatch.topic_matches(topic, name) is expected


def test_a_chat_already_taken_is_skipped(franchisee, agent, agent2, django_capture_on_commit_callbacks):
    conversation = start(franchisee, "Manual", django_capture_on_commit_callbacks)
    services.accept_conversation(conversation_id=conversation.pk, agent=agent2)
    available(agent)
    assert dispatch.route(conversation.pk) is dispatch.Outcome.SKIPPED
    conversation.refresh_from_db()
    assert conversation.agent_id == agent2.pk
    assert conversation.messages.filter(body__contains="se ha unido").count() == 1


def test_routing_query_count_does_not_grow_with_agents(
    franchisee, agent, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    conversation = start(franchisee, "Consultas", django_capture_on_commit_callbacks)
    for n in range(10):
        other = save_user(username=f"extra{n}", role="agent", password=PASSWORD)[0]
        available(other)
    with django_assert_max_num_queries(4):
        ranked = dispatch.ranked_candidates(conversation.topic)
    assert len(ranked) == 10


# --- supervisors' board and wait estimate ------------------------------------------------------


def test_supervisor_sees_every_agent_state_and_load(
    franchisee, agent, agent2, supervisor, supervisor_client, agent_client, django_capture_on_commit_callbacks
):
    available(agent)
    start(franchisee, "Carga", django_capture_on_commit_callbacks)
    AgentAvailability.objects.create(agent=agent2, status="available")  # but offline
    page = supervisor_client.get("/agent/").content.decode()
    assert 'id="agent-board"' in page
    assert f'data-agent="{agent.pk}" data-state="available"' in page
    assert f'data-agent="{agent2.pk}" data-state="offline"' in page
    rows = {row["agent"].pk: row for row in selectors.board_rows()}
    assert (rows[agent.pk]["active"], rows[agent.pk]["capacity"]) == (1, 3)
    assert 'id="agent-board"' not in agent_client.get("/agent/").content.decode()


def test_board_reads_are_constant(agent, supervisor, django_assert_num_queries):
    for n in range(8):
        available(save_user(username=f"board{n}", role="agent", password=PASSWORD)[0])
    with django_assert_num_queries(1):
        rows = selectors.board_rows()
    assert len(rows) == 10


def test_board_frames_reach_supervisors_only(franchisee, agent, agent2, supervisor, django_capture_on_commit_callbacks):
    from unittest import mock

    presence.agent_connected(agent.pk)
    with mock.patch("chat.dispatch.push_to_groups") as pushed, django_capture_on_commit_callbacks(execute=True):
        dispatch.set_availability(agent=agent, status="available")
    sent = [pair for call in pushed.call_args_list for pair in call.args[0] if pair[1]["type"] == "agent_status"]
    assert [group for group, _frame in sent] == [user_group(supervisor.pk)]  # not to agents, not to franchisees
    frame = sent[0][1]
    assert frame["type"] == "agent_status" and frame["agent"]["id"] == agent.pk
    assert (frame["status"], frame["online"], frame["state"], frame["active"], frame["capacity"]) == (
        "available",
        True,
        "available",
        0,
        3,
    )
    with mock.patch("chat.dispatch.push_to_groups") as pushed:
        start(franchisee, "Carga", django_capture_on_commit_callbacks)  # routed: the load changes
        presence.agent_disconnected(agent.pk)  # offline
    frames = [frame for call in pushed.call_args_list for _group, frame in call.args[0]]
    frames = [f for f in frames if f["type"] == "agent_status"]
    assert [(f["state"], f["active"]) for f in frames] == [("available", 1), ("offline", 1)]


def test_franchisee_sees_an_estimated_wait(franchisee, franchisee_client, agent, django_capture_on_commit_callbacks):
    presence.agent_connected(agent.pk)  # online but away: one slot, default 5 min handle time
    first = start(franchisee, "Uno", django_capture_on_commit_callbacks)
    second = start(franchisee, "Dos", django_capture_on_commit_callbacks)
    assert selectors.wait_estimate(first) == 5
    assert selectors.wait_estimate(second) == 10
    page = franchisee_client.get(f"/chat/{second.pk}/").content.decode()
    assert "Un agente te responderá en aproximadamente 10 minutos." in page


def test_wait_estimate_uses_recent_handle_times(franchisee, agent, agent2, django_capture_on_commit_callbacks):
    now = timezone.now()
    for minutes in (2, 4):
        c = start(franchisee, "Antiguo", django_capture_on_commit_callbacks)
        Conversation.objects.filter(pk=c.pk).update(
            status="closed", agent=agent, accepted_at=now - timedelta(minutes=minutes), closed_at=now
        )
    presence.agent_connected(agent.pk)
    presence.agent_connected(agent2.pk)
    waiting = start(franchisee, "Ahora", django_capture_on_commit_callbacks)
    assert selectors.recent_handle_minutes() == pytest.approx(3)
    assert selectors.wait_estimate(waiting) == 2  # 1 in line × 3 min ÷ 2 agents online, rounded up
    presence.agent_disconnected(agent.pk)
    presence.agent_disconnected(agent2.pk)
    assert selectors.wait_estimate(waiting) is None  # nobody online: the page offers a ticket instead


def test_supervisor_sets_capacity_in_the_admin_and_waiting_chats_follow(
    franchisee, agent, supervisor, django_capture_on_commit_callbacks
):
    available(agent, capacity=1)
    start(franchisee, "Uno", django_capture_on_commit_callbacks)
    waiting = start(franchisee, "Dos", django_capture_on_commit_callbacks)
    assert waiting.status == "waiting"
    admin = client_for(supervisor)
    response = admin.post(f"/admin/chat/agentavailability/{agent.pk}/change/", {"chat_capacity": "2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AgentAvailability.objects.get(agent=agent).chat_capacity == 2
    waiting.refresh_from_db()
    assert (waiting.status, waiting.agent_id) == ("active", agent.pk)
    # an agent may look but not change it
    assert (
        client_for(agent).post(f"/admin/chat/agentavailability/{agent.pk}/change/", {"chat_capacity": "9"}).status_code
        == 403
    )
    with pytest.raises(services.Forbidden):
        dispatch.set_capacity(actor=agent, agent=agent, capacity=9)


def test_wait_frames_follow_the_queue(franchisee, agent, django_capture_on_commit_callbacks):
    from unittest import mock

    from chat.frames import conversation_group

    presence.agent_connected(agent.pk)  # online, away: one slot, 5 min each
    first = start(franchisee, "Uno", django_capture_on_commit_callbacks)
    with mock.patch("chat.dispatch.push_to_groups") as pushed:
        second = start(franchisee, "Dos", django_capture_on_commit_callbacks)
    sent = dict(pushed.call_args_list[-1].args[0])
    assert sent == {
        conversation_group(first.pk): {"type": "wait", "minutes": 5},
        conversation_group(second.pk): {"type": "wait", "minutes": 10},
    }
    with mock.patch("chat.dispatch.push_to_groups") as pushed, django_capture_on_commit_callbacks(execute=True):
        services.accept_conversation(conversation_id=first.pk, agent=agent)  # the queue moves up
    assert dict(pushed.call_args_list[-1].args[0]) == {conversation_group(second.pk): {"type": "wait", "minutes": 5}}


def test_the_waiting_page_has_the_live_wait_hooks(franchisee, franchisee_client, django_capture_on_commit_callbacks):
    conversation = start(franchisee, "Nadie", django_capture_on_commit_callbacks)
    page = franchisee_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert 'id="chat-wait" hidden' in page  # nobody online: no estimate (yet)
    assert 'data-many="Un agente te responderá en aproximadamente __N__ minutos."' in page
