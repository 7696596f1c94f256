"""XSS corpus, server side: every vector through every user-writable field, every page inert.

The rendered HTML of each page that shows a field must hold no live markup a vector could have
produced (tests/xss_vectors.find_injections): no injected element, event handler, script, style
or script URL. The browser-side twin (tests/browser/test_browser_xss.py) renders the same corpus
in Chromium and watches for a dialog or an injected element.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from tests.xss_vectors import FIELDS, VECTORS, build_corpus, find_injections

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ADMIN_LISTS = (
    "/admin/accounts/franchise/",
    "/admin/accounts/user/",
    "/admin/tickets/ticket/",
    "/admin/chat/conversation/",
    "/admin/knowledge_base/article/",
)


# The corpus is checked in SHARDS tests (vectors 1, 5, 9… in shard 0; 2, 6, 10… in shard 1…) so
# pytest-xdist spreads the ~800 page renders over its workers (one test took ~45 s). Every vector
# still goes through every field and every page, list pages included (they show the shard's).
SHARDS = 4


@pytest.fixture(params=range(SHARDS), ids=lambda shard: f"shard{shard}")
def corpus(request, settings, tmp_path, django_capture_on_commit_callbacks):
    from knowledge_base.testing import temporary_search_index

    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    with temporary_search_index(tmp_path / "whoosh"):
        with django_capture_on_commit_callbacks(execute=True):
            data = build_corpus(VECTORS[request.param :: SHARDS])
        yield data
    cache.clear()


def test_the_shards_cover_every_vector_once():
    numbers = [v.number for shard in range(SHARDS) for v in VECTORS[shard::SHARDS]]
    assert sorted(numbers) == [v.number for v in VECTORS]


def _as(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_the_corpus_is_big_enough():
    assert len(VECTORS) >= 30
    assert {"script", "event", "js-url", "svg", "markdown", "breakout"} <= {v.family for v in VECTORS}
    assert len(FIELDS) >= 15


def test_every_vector_is_inert_in_every_page(corpus):
    problems: list[str] = []
    checked = 0

    def check(client: Client, url: str) -> None:
        nonlocal checked
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response["Content-Type"].startswith("application/json"):
            body = response.json()
            for hit in body.get("results", []):
                for problem in find_injections(hit.get("snippet", "")):
                    problems.append(f"{url} snippet: {problem}")
        else:
            for problem in find_injections(response.content.decode()):
                problems.append(f"{url}: {problem}")
        checked += 1

    viewer = _as(corpus["viewer"])
    for item in corpus["items"]:
        owner = _as(item["owner"])
        payload = VECTORS[item["number"] - 1].payload
        q = quote(payload[:150])
        for url in (
            "/",
            "/tickets/",
            f"/tickets/?q={q}",
            f"/tickets/{item['ticket']}/",
            f"/tickets/{item['chat_ticket']}/",
            "/chat/",
            f"/chat/{item['conversation']}/",
            f"/kb/{item['article']}/",
            f"/kb/search/?q={q}",
            f"/kb/suggest/?q={q}",
            "/notifications/",
        ):
            check(owner, url)
        for url in (
            f"/tickets/{item['ticket']}/",
            f"/tickets/{item['chat_ticket']}/",
            f"/chat/{item['conversation']}/",
            f"/kb/{item['article']}/",
            f"/kb/{item['article']}/edit/",
            f"/kb/{item['article']}/history/",
            f"/agent/?view=open&q={q}",
            f"/admin/tickets/ticket/{item['ticket']}/change/",
        ):
            check(viewer, url)
    pages = (len(corpus["items"]) + 24) // 25 * 3
    for page in range(1, pages + 1):
        check(viewer, f"/agent/?view=open&page={page}")
    for url in ("/chat/", "/kb/", "/kb/review/", "/tickets/", "/notifications/", *ADMIN_LISTS):
        check(viewer, url)
    print(f"\nXSS (server side): {len(corpus['items'])} vectors × {len(FIELDS)} fields, {checked} pages checked")
    assert not problems, "\n".join(problems[:50])


def test_the_check_catches_every_vector_rendered_unescaped():
    """The detector can fail: each raw vector, dropped unescaped into some page context, is flagged."""
    import markdown

    for vector in VECTORS:
        raw = vector.payload
        contexts = [f"<p>{raw}</p>", f'<input value="{raw}">', f"<input value='{raw}'>", markdown.markdown(raw)]
        assert any(find_injections(html) for html in contexts), vector
