"""Figures over a date range (tickets and chats, per agent and per franchise) and the streamed CSV
exports (issue 14 "Figures", issue 16 time spent)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from chat.models import Conversation, Message
from tests.tickets_factories import make_ticket
from tickets import export, services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_exports_and_figures_are_for_supervisors_only(agent_client, franchisee_client, supervisor_client):
    for url in ("/agent/reports/figures/", "/agent/reports/figures.csv", "/agent/reports/tickets.csv"):
        assert agent_client.get(url).status_code == 404, url
        assert franchisee_client.get(url).status_code == 404, url
        assert supervisor_client.get(url).status_code == 200, url


def test_tickets_csv_has_every_ticket_of_the_range_with_local_times(
    supervisor_client, franchisee, other_franchisee, agent, settings
):
    settings.TIME_ZONE = "Europe/Madrid"
    first = make_ticket(franchisee, '=HYPERLINK("http://x")')
    second = make_ticket(other_franchisee, "Norte: sin red")
    services.add_comment(ticket=second, actor=agent, body="Mirado", time_spent_minutes=40)
    old = make_ticket(franchisee, "Antiguo")
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    Ticket.objects.filter(pk=first.pk).update(created_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC))

    rows = _csv(
        supervisor_client.get(
            "/agent/reports/tickets.csv", {"start": "2026-06-01", "end": timezone.localdate().isoformat()}
        )
    )
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Número", "Creado", "Franquicia"] and "Tiempo dedicado (min)" in header
    by_number = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert set(by_number) == {first.number, second.number}  # the 400-day-old one is outside the range
    assert by_number[first.number]["Creado"] == "2026-07-01 12:00"  # 10:00 UTC in Madrid (summer)
    assert by_number[first.number]["Asunto"] == '\'=HYPERLINK("http://x")'  # no formula in a spreadsheet
    assert by_number[second.number]["Franquicia"] == "Franquicia Norte"
    assert by_number[second.number]["Tiempo dedicado (min)"] == "40"
    assert by_number[second.number]["Estado"] == "Abierto"


def test_tickets_csv_times_follow_the_viewers_time_zone(supervisor, supervisor_client, franchisee):
    ticket = make_ticket(franchisee, "Zona")
    Ticket.objects.filter(pk=ticket.pk).update(created_at=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    supervisor.time_zone = "America/New_York"
    supervisor.save(update_fields=["time_zone"])
    rows = _csv(supervisor_client.get("/agent/reports/tickets.csv", {"start": "2026-01-01", "end": "2026-01-31"}))
    assert rows[1][:2] == [ticket.number, "2026-01-15 05:00"]


def test_tickets_csv_query_count_is_per_chunk_not_per_row(
    supervisor_client, franchisee, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(export, "CHUNK", 10)
    calls = []
    extra = export.ExtraColumns(
        headers=lambda: ["Extra"], values=lambda ids: calls.append(len(ids)) or {i: [f"x{i}"] for i in ids}
    )
    export.register_columns(extra)
    try:
        tickets = [make_ticket(franchisee, f"T{i}") for i in range(25)]
        response = supervisor_client.get("/agent/reports/tickets.csv")
        rows = _csv(response)
    finally:
        export._EXTRA.remove(extra)
    assert rows[0][-1] == "Extra"
    assert {row[0]: row[-1] for row in rows[1:]} == {t.number: f"x{t.pk}" for t in tickets}
    assert calls == [10, 10, 5]  # once per chunk of rows, never per ticket


def test_streaming_under_asgi_reads_one_chunk_at_a_time():
    pulled = []

    def rows():
        for i in range(10 * export.CHUNK):
            pulled.append(i)
            yield [i]

    response = export.rows_csv(["n"], rows(), "x.csv")

    async def first_two_parts():
        parts = []
        async for part in response:
            parts.append(part)
            if len(parts) == 2:
                break
        return parts

    header, chunk = async_to_sync(first_two_parts)()
    assert header.startswith(b"\xef\xbb\xbfn")
    assert chunk.count(b"\n") == export.CHUNK
    assert len(pulled) <= export.CHUNK + 1  # not the whole file (Django would list() a sync iterator)


def _peak_bytes(rows: int) -> int:
    header = ["Número"] + ["x"] * 10
    tracemalloc.start()
    response = export.rows_csv(header, ([i, *(["valor de prueba"] * 10)] for i in range(rows)), "x.csv")
    for _part in response:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_writing_takes_constant_memory():
    small, large = _peak_bytes(5_000), _peak_bytes(50_000)
    assert large < small * 1.5, (small, large)


# --- figures -------------------------------------------------------------------------------------------


@pytest.fixture
def busy_week(franchisee, other_franchisee, agent, agent2):
    """Two tickets resolved by Ana (one rated 4), one by Bea; time recorded; two chats."""
    now = timezone.now()
    a = make_ticket(franchisee, "Uno")
    b = make_ticket(franchisee, "Dos")
    c = make_ticket(other_franchisee, "Tres")
    for ticket, who, minutes in ((a, agent, 30), (b, agent, 15), (c, agent2, 60)):
        services.claim(ticket=ticket, actor=who)
        services.add_comment(ticket=ticket, actor=who, body="Hecho", time_spent_minutes=minutes)
        services.resolve(ticket=ticket, actor=who)
    services.rate(ticket=a, actor=franchisee, rating=4)
    chat_a = Conversation.objects.create(
        franchise=franchisee.franchise,
        franchisee=franchisee,
        agent=agent,
        status="closed",
        topic="TPV",
        created_at=now - timedelta(minutes=30),
        accepted_at=now - timedelta(minutes=28),
        closed_at=now - timedelta(minutes=8),
        rating=5,
    )
    Message.objects.create(conversation=chat_a, author=franchisee, body="Hola", created_at=now - timedelta(minutes=29))
    Message.objects.create(conversation=chat_a, author=agent, body="Dime", created_at=now - timedelta(minutes=27))
    Conversation.objects.create(
        franchise=other_franchisee.franchise, franchisee=other_franchisee, status="waiting", topic="Red", created_at=now
    )
    return a, b, c


def test_range_figures_per_team_agent_and_franchise(
    busy_week, agent, agent2, centro, norte, django_assert_max_num_queries
):
    from tickets import breakdowns

    today = timezone.localdate()
    with django_assert_max_num_queries(20):
        figures = breakdowns.range_figures(today - timedelta(days=6), today)
    team = figures.team
    assert (team.created, team.resolved, team.minutes, team.ratings, team.csat) == (3, 3, 105, 1, 4)
    assert (team.chat.chats, team.chat.answered, team.chat.ratings, team.chat.csat) == (2, 1, 1, 5)
    assert team.chat.avg_wait == timedelta(minutes=2)
    assert team.chat.avg_first_response == timedelta(minutes=3)
    assert team.chat.avg_handle == timedelta(minutes=20)
    ana = next(r for r in figures.by_agent if r.key == agent.pk)
    bea = next(r for r in figures.by_agent if r.key == agent2.pk)
    assert (ana.resolved, ana.minutes, ana.csat, ana.chat.chats) == (2, 45, 4, 1)
    assert (bea.resolved, bea.minutes, bea.chat) == (1, 60, None)
    centro_row = next(r for r in figures.by_franchise if r.key == centro.pk)
    norte_row = next(r for r in figures.by_franchise if r.key == norte.pk)
    assert (centro_row.created, centro_row.minutes, centro_row.chat.chats) == (2, 45, 1)
    assert (norte_row.created, norte_row.minutes, norte_row.chat.chats, norte_row.chat.answered) == (1, 60, 1, 0)
    # a range before anything happened is empty
    empty = breakdowns.range_figures(today - timedelta(days=60), today - timedelta(days=30))
    assert (empty.team.created, empty.team.minutes, empty.team.chat.chats) == (0, 0, 0)


def test_figures_page_and_csv(busy_week, supervisor_client, agent):
    page = supervisor_client.get("/agent/reports/figures/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Chats" in text and "Ana" in text and "Franquicia Norte" in text and "1 h 45 min" in text
    rows = _csv(supervisor_client.get("/agent/reports/figures.csv"))
    header = rows[0]
    lines = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    team = next(line for line in lines if line["Ámbito"] == "Equipo")
    assert (
        team["Tickets resueltos"],
        team["Tiempo dedicado (min)"],
        team["Chats"],
        team["Satisfacción chat (1–5)"],
    ) == (
        "3",
        "105",
        "2",
        "5.00",
    )
    ana = next(line for line in lines if line["Ámbito"] == "Agente" and line["Nombre"] == "Ana")
    assert (ana["Tickets resueltos"], ana["Tiempo dedicado (min)"], ana["Espera media chat (min)"]) == (
        "2",
        "45",
        "2.0",
    )


def test_figures_range_is_validated(supervisor_client):
    assert (
        supervisor_client.get("/agent/reports/figures/", {"start": "2026-05-02", "end": "2026-05-01"}).status_code
        == 400
    )
    assert (
        supervisor_client.get("/agent/reports/figures/", {"start": "2020-01-01", "end": "2026-05-01"}).status_code
        == 400
    )
    assert supervisor_client.get("/agent/reports/tickets.csv", {"start": "nope"}).status_code == 400


def test_dashboard_shows_chat_figures_beside_ticket_figures(busy_week, supervisor_client):
    text = supervisor_client.get("/agent/").content.decode()
    assert "Cifras de chat" in text and "/agent/reports/figures/" in text
