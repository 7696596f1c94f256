"""The Elasticsearch backend with the Spanish analyzer (runs when ELASTICSEARCH_URL is set)."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from knowledge_base import services
from knowledge_base.search import search_articles
from tests.conftest import require_env

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db]


@pytest.fixture
def es_index():
    url = require_env("ELASTICSEARCH_URL")
    from haystack import connections

    info = {
        "default": {
            "ENGINE": "knowledge_base.search_backends.KBElasticsearchEngine",
            "URL": url,
            "INDEX_NAME": f"kb_test_{uuid.uuid4().hex[:10]}",
        }
    }
    saved_info, saved = connections.connections_info, getattr(connections.thread_local, "connections", None)
    connections.connections_info = info
    connections.thread_local.connections = {}
    with override_settings(HAYSTACK_CONNECTIONS=info):
        backend = connections["default"].get_backend()
        backend.setup()
        try:
            yield backend
        finally:
            backend.conn.indices.delete(index=backend.index_name, ignore=[404])
            connections.connections_info = saved_info
            connections.thread_local.connections = saved or {}


def test_spanish_analyzer_accents_stems_and_visibility(es_index, agent, franchisee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        password = services.create_article(
            actor=agent, title="He olvidado la contraseña", body="Restablece la contraseña.", status="published"
        )
        printer = services.create_article(
            actor=agent, title="Las impresoras no imprimen", body="Revisa el rollo.", status="published"
        )
        draft = services.create_article(actor=agent, title="Borrador de contraseña", body="x")
    es_index.conn.indices.refresh(index=es_index.index_name)
    assert search_articles("contrasena", user=franchisee).hits[0].slug == password.slug
    assert search_articles("impresora", user=franchisee).hits[0].slug == printer.slug
    assert draft.slug not in [h.slug for h in search_articles("contraseña", user=franchisee).hits]
    assert draft.slug in [h.slug for h in search_articles("contraseña", user=agent).hits]
    with django_capture_on_commit_callbacks(execute=True):
        services.archive_article(article=printer, actor=agent)
    es_index.conn.indices.refresh(index=es_index.index_name)
    assert printer.slug not in [h.slug for h in search_articles("impresora", user=agent).hits]
