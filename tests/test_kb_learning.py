"""Learning from use: search log, click attribution, content-gaps page (scoping), weekly digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge_base import services
from knowledge_base.models import Article, SearchLog
from knowledge_base.selectors import content_gaps
from knowledge_base.testing import temporary_search_index
from notifications.models import Notification
from tickets.services import create_ticket

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def kb_index(tmp_path):
    with temporary_search_index(tmp_path / "whoosh"):
        yield


@pytest.fixture
def printer(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.create_article(
            actor=agent, title="La impresora no imprime", body="Cambia el rollo de papel.", owner=agent,
            status=Article.Status.PUBLISHED,
        )  # fmt: skip


def test_suggest_burst_is_one_log_row_and_clicks_are_attributed(printer, franchisee, franchisee_client):
    for typed in ("impr", "impreso", "impresora no"):
        assert franchisee_client.get("/kb/suggest/", {"q": typed}).status_code == 200
    log = SearchLog.objects.get()
    assert log.query == "impresora no" and log.franchise_id == franchisee.franchise_id
    assert log.shown[0] == printer.slug
    franchisee_client.get(printer.get_absolute_url())
    log.refresh_from_db()
    assert log.clicked_id == printer.pk and log.clicked_rank == 1
    franchisee_client.get("/kb/search/", {"q": "alarma de la puerta"})  # a new search: a new row
    assert SearchLog.objects.count() == 2


def test_agents_searches_are_not_logged(printer, agent_client):
    agent_client.get("/kb/suggest/", {"q": "impresora"})
    assert not SearchLog.objects.exists()


def test_gaps_aggregate_no_click_tickets_and_never_clicked(printer, franchisee, franchisee_client):
    for query in ("alarma puerta", "alarma puerta", "impresora"):
        services.log_search(user=franchisee, query=query, slugs=[printer.slug], total=1, source="search")
        SearchLog.objects.update(updated_at=timezone.now() - timedelta(minutes=5))  # end of the burst
    create_ticket(actor=franchisee, subject="Alarma", description="La alarma de la puerta suena sola.")
    gaps = content_gaps(franchise_id=franchisee.franchise_id)
    assert gaps["no_click"][0]["normalized"] == "alarma puerta" and gaps["no_click"][0]["count"] == 2
    assert {row["normalized"] for row in gaps["followed_by_ticket"]} == {"alarma puerta", "impresora"}
    assert gaps["never_clicked"] == [{"slug": printer.slug, "title": printer.title, "shown": 3}]
    assert gaps["totals"]["searches"] == 3 and gaps["totals"]["tickets"] == 3


def test_gaps_page_is_for_agents_and_keeps_franchises_apart(
    printer, franchisee, other_franchisee, franchisee_client, agent_client
):
    services.log_search(user=franchisee, query="alarma centro", slugs=[], total=0, source="search")
    services.log_search(user=other_franchisee, query="persiana norte", slugs=[], total=0, source="search")
    assert franchisee_client.get("/kb/gaps/").status_code == 404
    assert franchisee_client.post("/kb/gaps/draft/", {"query": "x"}).status_code == 404
    page = agent_client.get("/kb/gaps/", {"franchise": franchisee.franchise_id}).content.decode()
    assert "alarma centro" in page and "persiana norte" not in page
    assert franchisee.username not in page  # aggregates: queries and counts, never who searched
    page = agent_client.get("/kb/gaps/").content.decode()
    assert "alarma centro" in page and "persiana norte" in page


def test_one_click_draft_for_a_query(agent_client):
    response = agent_client.post("/kb/gaps/draft/", {"query": "persiana no baja"})
    article = Article.objects.get(title="Persiana no baja")
    assert article.status == Article.Status.DRAFT
    assert response.status_code == 302 and response["Location"] == article.get_edit_url()


def test_weekly_digest_reaches_kb_owners_only(printer, agent, agent2, franchisee):
    from knowledge_base.tasks import content_gaps_digest

    services.log_search(user=franchisee, query="persiana no baja", slugs=[], total=0, source="search")
    assert content_gaps_digest.delay().get() == 1
    note = Notification.objects.get(recipient=agent)
    assert "persiana no baja" in note.body and note.url == "/kb/gaps/"
    assert not Notification.objects.filter(recipient__in=[agent2, franchisee]).exists()
