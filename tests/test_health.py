"""`/healthz`: 200 when every part answers, 503 naming the part that does not."""

import pytest
from django.test import Client

from support_portal import health

pytestmark = pytest.mark.django_db


def test_healthy(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert set(body["checks"]) == {"database", "channel_layer", "search", "broker"}


def test_channel_layer_down_gives_503(monkeypatch):
    class BrokenLayer:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("redis is gone")

    monkeypatch.setattr(health, "get_channel_layer", lambda: BrokenLayer())
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["channel_layer"]
    assert "redis is gone" not in response.content.decode()  # no internals leak


def test_database_down_gives_503(monkeypatch):
    from django.db import OperationalError

    class BrokenCursor:
        def __enter__(self):
            raise OperationalError("could not connect")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
