"""Knowledge at hand, similar tickets and "same problem": what each user gets from /assist/…,
scoped to them (another franchise's conversation or ticket is a 404 and never a suggestion)."""

from __future__ import annotations

import pytest

from accounts.services import save_user
from assist.text import key_words, query_from, similarity, stems
from chat import services as chat_services
from knowledge_base import services as kb_services
from knowledge_base.models import Article
from knowledge_base.testing import temporary_search_index
from tests.tickets_factories import make_ticket
from tickets import services as ticket_services
from tickets.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


@pytest.fixture
def articles(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return {
            "printer": kb_services.create_article(
                actor=agent, title="La impresora de tickets no imprime", body="Revisa el rollo de papel térmico.",
                summary="Cambia el rollo y cierra bien la tapa.", status=Article.Status.PUBLISHED,
            ),
            "terminal": kb_services.create_article(
                actor=agent, title="El datáfono no tiene conexión", body="Comprueba el cable de red del datáfono.",
                summary="Reinicia el router y el datáfono.", status=Article.Status.PUBLISHED,
            ),
            "draft": kb_services.create_article(
                actor=agent, title="Borrador: datáfono bloqueado", body="El datáfono se bloquea.",
                status=Article.Status.DRAFT,
            ),
        }  # fmt: skip


def _slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [hit["slug"] for hit in response.json()["results"]]


# --- text ------------------------------------------------------------------------------------


def test_key_words_put_the_topic_first_then_the_most_repeated_words():
    words = key_words("El datáfono no conecta", ["la impresora falla", "impresora otra vez", "y el wifi"])
    assert words[:2] == ["datáfono", "conecta"]
    assert words[2] == "impresora"  # twice in the messages
    assert "el" not in words and "no" not in words  # stop words


def test_query_from_fits_the_search_limit():
    query = query_from("palabra " * 5, ["x" * 50 + " otra" * 3, *[f"termino{i}" for i in range(40)]])
    assert len(query) <= 200
    assert query.split()[0] == "palabra"


def test_similarity_compares_stems_without_accents():
    assert similarity(stems("El datáfono no imprime"), stems("el datafono no imprimía")) == 1.0
    assert similarity(stems("datáfono"), stems("contraseña")) == 0.0


# --- knowledge at hand -------------------------------------------------------------------------


def test_typed_query_finds_articles_with_summary_and_absolute_link(agent_client, articles):
    response = agent_client.get("/assist/articles/", {"q": "impresora"})
    hit = response.json()["results"][0]
    assert hit["slug"] == articles["printer"].slug
    assert hit["summary"] == "Cambia el rollo y cierra bien la tapa."
    assert hit["link"] == f"http://testserver/kb/{articles['printer'].slug}/"
    assert response["Cache-Control"] == "private, no-store"


def test_franchisee_never_gets_a_draft(franchisee_client, agent_client, articles):
    assert articles["draft"].slug not in _slugs(franchisee_client.get("/assist/articles/", {"q": "datáfono bloqueado"}))
    assert articles["draft"].slug in _slugs(agent_client.get("/assist/articles/", {"q": "datáfono bloqueado"}))


def test_conversation_articles_follow_the_chat_as_it_grows(franchisee, agent, agent_client, articles):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="El datáfono no conecta")
    url = f"/assist/articles/?conversation={conversation.pk}"
    assert _slugs(agent_client.get(url))[0] == articles["terminal"].slug
    assert articles["printer"].slug not in _slugs(agent_client.get(url))
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    for n in range(2):
        chat_services.post_message(
            conversation_id=conversation.pk, author=franchisee, body="y la impresora tampoco imprime", client_id=f"c{n}"
        )
    assert articles["printer"].slug in _slugs(agent_client.get(url))


def test_waiting_franchisee_gets_suggestions_for_their_topic(franchisee, franchisee_client, articles):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="La impresora no imprime")
    page = franchisee_client.get(f"/chat/{conversation.pk}/")
    assert b"data-assist-kb" in page.content and b"assist-kb-q" not in page.content  # suggestions, no search box
    assert _slugs(franchisee_client.get(f"/assist/articles/?conversation={conversation.pk}"))[0] == (
        articles["printer"].slug
    )


def test_another_franchise_conversation_or_ticket_is_a_404(franchisee, other_franchisee_client, articles):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="El datáfono no conecta")
    ticket = make_ticket(franchisee)
    assert other_franchisee_client.get(f"/assist/articles/?conversation={conversation.pk}").status_code == 404
    assert other_franchisee_client.get(f"/assist/articles/?ticket={ticket.pk}").status_code == 404
    assert other_franchisee_client.get("/assist/articles/?ticket=999999").status_code == 404


def test_ticket_articles_use_its_text(franchisee, agent_client, articles):
    ticket = make_ticket(franchisee, subject="Problema en caja", description="La impresora de tickets no imprime")
    assert _slugs(agent_client.get(f"/assist/articles/?ticket={ticket.pk}"))[0] == articles["printer"].slug


def test_panels_are_rate_limited(agent_client, settings, articles):
    settings.ASSIST_RATE = "2/60"
    assert agent_client.get("/assist/articles/?q=impresora").status_code == 200
    assert agent_client.get("/assist/articles/?q=impresora").status_code == 200
    refused = agent_client.get("/assist/articles/?q=impresora")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


def test_agent_ticket_page_has_the_panels_but_runs_no_search(franchisee, agent_client, articles):
    ticket = make_ticket(franchisee)
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "data-assist-kb" in page and f'data-source="ticket={ticket.pk}"' in page
    assert 'data-target="id_body"' in page and 'data-format="markdown"' in page
    assert f"/assist/tickets/{ticket.pk}/similar/" in page
    assert "La impresora de tickets" not in page  # loaded later, as JSON


def test_franchisee_ticket_page_has_no_agent_panels(franchisee, franchisee_client):
    ticket = make_ticket(franchisee)
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "data-assist-kb" not in page and "data-assist-similar" not in page


# --- similar tickets ---------------------------------------------------------------------------


def _resolved(actor, agent, subject, description, reply="", note=""):
    ticket = make_ticket(actor, subject=subject, description=description)
    if note:
        ticket_services.add_comment(ticket=ticket, actor=agent, body=note, internal=True)
    if reply:
        ticket_services.add_comment(ticket=ticket, actor=agent, body=reply)
    ticket_services.change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    return ticket


@pytest.fixture
def history(franchisee, other_franchisee, agent):
    return {
        "norte": _resolved(other_franchisee, agent, "El datáfono no imprime", "El datáfono no imprime nada",
                           reply="Cambiad el rollo."),
        "centro": _resolved(franchisee, agent, "Datafono no imprime recibos", "El datafono no imprime",
                            reply="Primero reinicia.", note="Era el rollo, cambiado"),
        "note_only": _resolved(franchisee, agent, "El datáfono no imprime el ticket", "No imprime",
                               note="Cambiado el cabezal"),
        "unrelated": _resolved(franchisee, agent, "Contraseña olvidada", "No puedo entrar al back-office",
                               reply="Te enviamos otra."),
        "open": make_ticket(franchisee, subject="El datáfono no imprime otra vez", description="Igual"),
    }  # fmt: skip


def test_similar_tickets_same_franchise_first_with_their_solution(franchisee, agent_client, history):
    ticket = make_ticket(franchisee, subject="Mi datáfono no imprime", description="El datáfono no imprime")
    results = agent_client.get(f"/assist/tickets/{ticket.pk}/similar/").json()["results"]
    numbers = [r["number"] for r in results]
    assert history["open"].number not in numbers and history["unrelated"].number not in numbers
    assert ticket.number not in numbers
    assert set(numbers[:2]) == {history["centro"].number, history["note_only"].number}  # Centro first
    assert numbers[2] == history["norte"].number
    by_number = {r["number"]: r for r in results}
    assert by_number[history["centro"].number]["solution"] == "Primero reinicia."  # the public reply wins
    assert by_number[history["note_only"].number]["solution"] == "Cambiado el cabezal"  # else the note
    assert by_number[history["centro"].number]["same_franchise"] is True
    assert by_number[history["norte"].number]["same_franchise"] is False


def test_similar_tickets_are_for_agents_only(franchisee, franchisee_client, history):
    ticket = make_ticket(franchisee, subject="Mi datáfono no imprime")
    assert franchisee_client.get(f"/assist/tickets/{ticket.pk}/similar/").status_code == 404


def test_similar_tickets_read_a_constant_number_of_queries(
    franchisee, agent, agent_client, history, django_assert_max_num_queries
):
    for n in range(10):
        _resolved(franchisee, agent, f"El datáfono no imprime {n}", "no imprime", reply=f"Solución {n}")
    ticket = make_ticket(franchisee, subject="Mi datáfono no imprime")
    with django_assert_max_num_queries(9):  # session, user, throttle-free: ticket, candidates, solutions
        response = agent_client.get(f"/assist/tickets/{ticket.pk}/similar/")
    assert len(response.json()["results"]) == 5


# --- same problem (new ticket) -------------------------------------------------------------------


def test_franchisee_is_pointed_to_their_open_ticket(franchisee_client, history):
    results = franchisee_client.get(
        "/assist/same-problem/", {"subject": "datafono no imprime", "description": ""}
    ).json()["results"]
    assert [r["number"] for r in results] == [history["open"].number]
    assert results[0]["url"] == history["open"].get_absolute_url()


def test_never_another_franchise_ticket(norte, other_franchisee_client, franchisee, history):
    # Norte's franchisee writes about the same problem: Centro's open ticket is never offered.
    results = other_franchisee_client.get("/assist/same-problem/", {"subject": "El datáfono no imprime"}).json()
    assert results["results"] == []
    colleague = save_user(username="fran_norte2", role="franchisee", franchise=norte)[0]
    own = make_ticket(colleague, subject="El datáfono no imprime nada")
    results = other_franchisee_client.get("/assist/same-problem/", {"subject": "El datáfono no imprime"}).json()
    assert [r["number"] for r in results["results"]] == [own.number]


def test_agents_get_no_same_problem_hint(agent_client, history):
    assert agent_client.get("/assist/same-problem/", {"subject": "El datáfono no imprime"}).json()["results"] == []


def test_new_ticket_page_carries_the_hint_for_franchisees(franchisee_client, agent_client):
    assert b"data-assist-same" in franchisee_client.get("/tickets/new/").content
    assert b"data-assist-same" not in agent_client.get("/tickets/new/").content
