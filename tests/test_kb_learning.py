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


# --- Click-through signal and its feedback-loop guard (knowledge_base/clicks.py) -------


def _simulate(users, query, shown, clicked_rank, times, article_by_slug):
    rows = []
    for n in range(times):
        user = users[n % len(users)]
        clicked = article_by_slug[shown[clicked_rank - 1]] if clicked_rank else None
        rows.append(SearchLog(user=user, franchise_id=user.franchise_id, source="suggest", query=query,
                              normalized=query, shown=shown, result_count=len(shown), clicked=clicked,
                              clicked_rank=clicked_rank))  # fmt: skip
    SearchLog.objects.bulk_create(rows)


@pytest.fixture
def loop_setup(agent, centro, django_capture_on_commit_callbacks):
    from accounts.models import User

    users = [User.objects.create(username=f"f{n}", role="franchisee", franchise=centro) for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        articles = {
            name: services.create_article(actor=agent, title=f"Artículo {name}", body="Texto.", status="published")
            for name in "abc"
        }
    by_slug = {a.slug: a for a in articles.values()}
    shown = [articles[name].slug for name in "abc"]
    # Background traffic: other queries whose users click the first result (sets P(rank)).
    _simulate(users, "otra consulta", shown, 1, 200, by_slug)
    return users, shown, by_slug


def test_blind_clicks_on_the_first_result_do_not_feed_back(loop_setup):
    from django.core.cache import cache

    from knowledge_base import clicks

    users, shown, by_slug = loop_setup
    ranked = [(slug, 30.0 - i) for i, slug in enumerate(shown)]
    for _round in range(5):  # five rounds of users clicking whatever is on top
        top = [slug for slug, _ in ranked]
        _simulate(users, "impresora", top, 1, 20, by_slug)
        cache.clear()
        lift = clicks.lift_for("impresora")
        ranked = clicks.rerank(ranked, lift, weight=0.5)
        assert lift == {}  # clicked exactly as often as rank 1 predicts: no boost
    assert [slug for slug, _ in ranked] == shown


def test_an_article_clicked_beyond_its_position_rises_but_needs_several_users(loop_setup):
    from django.core.cache import cache

    from knowledge_base import clicks

    users, shown, by_slug = loop_setup
    _simulate(users[:1], "rollo papel", shown, 3, 30, by_slug)  # one user only: not enough evidence
    assert clicks.lift_for("rollo papel") == {}
    cache.clear()
    _simulate(users, "rollo papel", shown, 3, 30, by_slug)
    lift = clicks.lift_for("rollo papel")
    assert set(lift) == {shown[2]} and lift[shown[2]] > clicks.MIN_LIFT
    fused = [(slug, 1000 * 2 / (60 + i)) for i, slug in enumerate(shown, start=1)]
    assert clicks.rerank(fused, lift, weight=0.5)[0][0] == shown[2]
    assert [slug for slug, _ in clicks.rerank(fused[:2], lift, weight=0.5)] == shown[:2]  # never brings one in


def test_clicks_followed_by_a_ticket_do_not_count(loop_setup, django_capture_on_commit_callbacks):
    from knowledge_base import clicks

    users, shown, by_slug = loop_setup
    _simulate(users, "rollo papel", shown, 3, 30, by_slug)
    for user in users:
        create_ticket(actor=user, subject="No funciona", description="El artículo no me sirvió.")
    assert clicks.lift_for("rollo papel") == {}
