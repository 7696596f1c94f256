"""Ticket search covers comments (public ones for franchisees, internal notes too for agents) and
attachment names, ranked; PostgreSQL full-text search (Spanish, accents optional) with a GIN index,
and the simple fallback on SQLite — the same behaviour on both where they overlap."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import require_env
from tests.tickets_factories import make_ticket, png, text_file
from tickets import search, services
from tickets.models import TicketSearch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings, tmp_path):
    settings.TICKETS_AUTO_ASSIGN = "off"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def pg():
    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.fail("DATABASE_URL is set but the tests do not run on PostgreSQL")


def found(client, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200
    return [t.pk for t in response.context["page"].object_list]


def test_comments_and_file_names_are_searched_with_internal_notes_for_agents_only(
    franchisee, agent, franchisee_client, agent_client
):
    ticket = make_ticket(franchisee, subject="No funciona", description="Algo falla.")
    services.add_comment(ticket=ticket, actor=agent, body="Hemos cambiado el lector de tarjetas")
    services.add_comment(ticket=ticket, actor=agent, body="Proveedor moroso, no decirle nada", internal=True)
    services.add_comment(ticket=ticket, actor=agent, body="adjunto", internal=True, attachments=[png("secreto.png")])
    services.add_comment(ticket=ticket, actor=franchisee, body="Va la foto", attachments=[png("ticket_caja.png")])
    make_ticket(franchisee, subject="Otro asunto", description="Nada que ver.")

    assert found(franchisee_client, "/tickets/?q=lector") == [ticket.pk]
    assert found(franchisee_client, "/tickets/?q=caja") == [ticket.pk]  # an attachment's name
    assert found(franchisee_client, "/tickets/?q=moroso") == []  # an internal note
    assert found(franchisee_client, "/tickets/?q=secreto") == []  # a file of an internal note
    assert found(agent_client, "/tickets/?q=moroso") == [ticket.pk]
    assert found(agent_client, "/tickets/?q=secreto") == [ticket.pk]
    assert found(agent_client, "/agent/?view=open&q=moroso") == [ticket.pk]
    assert found(agent_client, f"/tickets/?q=T-{ticket.pk:06d}") == [ticket.pk]


def test_results_are_ranked_subject_first(franchisee, agent, franchisee_client, agent_client):
    in_comment = make_ticket(franchisee, subject="Pantalla", description="Se apaga.")
    services.add_comment(ticket=in_comment, actor=agent, body="Revisa la impresora")
    in_subject = make_ticket(franchisee, subject="La impresora no imprime", description="Nada sale.")
    in_description = make_ticket(franchisee, subject="Caja", description="La impresora pita.")
    expected = [in_subject.pk, in_description.pk, in_comment.pk]
    assert found(franchisee_client, "/tickets/?q=impresora") == expected
    assert found(agent_client, "/agent/?view=open&q=impresora&sort=relevance") == expected


def test_another_franchise_never_matches(franchisee, other_franchisee, agent, other_franchisee_client):
    ticket = make_ticket(franchisee, subject="Datáfono roto")
    services.add_comment(ticket=ticket, actor=agent, body="cambiamos el datáfono")
    assert found(other_franchisee_client, "/tickets/?q=datáfono") == []


def test_search_document_is_the_text_that_is_searched(franchisee, agent):
    ticket = make_ticket(franchisee, subject="Asunto", description="Texto", attachments=[text_file("registro.log")])
    services.add_comment(ticket=ticket, actor=agent, body="Pública")
    services.add_comment(ticket=ticket, actor=agent, body="Interna", internal=True)
    assert ticket.search_document() == "Asunto\nTexto\nPública\nregistro.log"
    assert ticket.search_document(internal=True) == "Asunto\nTexto\nPública\nInterna\nregistro.log"


# --- PostgreSQL: full-text search, Spanish, unaccent, GIN --------------------------------------


@pytest.mark.postgres
def test_spanish_stemming_and_optional_accents(pg, franchisee, franchisee_client):
    ticket = make_ticket(franchisee, subject="Fallo tras la actualización", description="Las impresoras no responden.")
    make_ticket(franchisee, subject="Otra cosa", description="Sin relación.")
    for q in ("actualizacion", "actualización", "ACTUALIZACIÓN", "impresora", "responde", "impresoras -papel"):
        assert found(franchisee_client, f"/tickets/?q={q}") == [ticket.pk], q
    assert found(franchisee_client, "/tickets/?q=impresora -actualizacion") == []


@pytest.mark.postgres
def test_documents_follow_the_services(pg, franchisee, agent):
    ticket = make_ticket(franchisee, subject="Red caída")
    row = TicketSearch.objects.get(pk=ticket.pk)
    assert "red" in str(row.public) and "lector" not in str(row.internal)
    services.add_comment(ticket=ticket, actor=agent, body="lector nuevo", internal=True)
    row.refresh_from_db()
    assert "lector" in str(row.internal) and "lector" not in str(row.public)
    target = make_ticket(franchisee, subject="Principal")
    services.merge(source=ticket, target=target, actor=agent)
    assert "lector" in str(TicketSearch.objects.get(pk=target.pk).internal)
    assert "lector" not in str(TicketSearch.objects.get(pk=ticket.pk).internal)


@pytest.mark.postgres
def test_the_gin_indexes_serve_the_search(pg, franchisee):
    for i in range(30):
        make_ticket(franchisee, subject=f"Ticket {i}", description="texto corriente")
    make_ticket(franchisee, subject="Escáner averiado")
    from tickets.models import Ticket

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = search.matching(Ticket.objects.all(), "escaner", internal=False).explain()
        internal_plan = search.matching(Ticket.objects.all(), "escaner", internal=True).explain()
    assert "ticket_search_public_gin" in plan, plan
    assert "ticket_search_internal_gin" in internal_plan, internal_plan


@pytest.mark.postgres
def test_rebuild_fills_every_ticket(pg, franchisee):
    tickets = [make_ticket(franchisee, subject=f"Lote {i}") for i in range(3)]
    TicketSearch.objects.all().delete()
    assert search.rebuild(batch=2) == 3
    assert TicketSearch.objects.filter(pk__in=[t.pk for t in tickets]).count() == 3


@pytest.mark.postgres
def test_ranking_is_bounded_to_the_newest_matches(pg, franchisee, franchisee_client, monkeypatch):
    monkeypatch.setattr(search, "RANK_WINDOW", 2)
    _old, middle, new = (make_ticket(franchisee, subject=f"Escáner {i}", description="x") for i in range(3))
    assert found(franchisee_client, "/tickets/?q=escaner") == [new.pk, middle.pk]
