"""Shared fixtures: franchises, users of each role and logged-in clients."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from accounts.models import Franchise, User
from accounts.services import save_franchise, save_user

PASSWORD = "s3cret-Pass!"
IN_CI = os.environ.get("CI", "").lower() == "true"


# Services CI cannot provide on this kind of machine: Elasticsearch is in no registry reachable
# here (not Debian, PyPI or npm) and there is no Docker engine. Their tests run wherever the
# variable is set (e.g. `docker compose up elasticsearch` on a developer machine).
UNAVAILABLE_IN_CI = {"ELASTICSEARCH_URL"}


def require_env(name: str) -> str:
    """Value of a service URL; skip (outside CI) or fail (in CI) when it is not set."""
    value = os.environ.get(name, "")
    if not value:
        if IN_CI and name not in UNAVAILABLE_IN_CI:
            pytest.fail(f"{name} must be set in CI: no test may be skipped for lack of a service")
        pytest.skip(f"{name} not set: this test needs the real service (CI sets it)")
    return value


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits, presence and lockouts live in the cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _no_creation_limits(settings):
    """Ticket/comment creation limits off unless a test sets them (many tests create dozens of rows
    in a loop); tests/test_security_submissions.py tests the limits with their own values."""
    settings.TICKET_CREATE_RATE = settings.COMMENT_CREATE_RATE = "0"


@pytest.fixture
def centro(db) -> Franchise:
    return save_franchise(code="centro", name="Franquicia Centro")[0]


@pytest.fixture
def norte(db) -> Franchise:
    return save_franchise(code="norte", name="Franquicia Norte")[0]


@pytest.fixture
def franchisee(centro) -> User:
    return save_user(username="fran_centro", role="franchisee", franchise=centro, password=PASSWORD)[0]


@pytest.fixture
def other_franchisee(norte) -> User:
    return save_user(username="fran_norte", role="franchisee", franchise=norte, password=PASSWORD)[0]


@pytest.fixture
def agent(db) -> User:
    return save_user(username="agent_a", role="agent", password=PASSWORD, first_name="Ana")[0]


@pytest.fixture
def agent2(db) -> User:
    return save_user(username="agent_b", role="agent", password=PASSWORD, first_name="Bea")[0]


@pytest.fixture
def supervisor(db) -> User:
    return save_user(username="boss", role="supervisor", password=PASSWORD)[0]


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def franchisee_client(franchisee) -> Client:
    return _client_for(franchisee)


@pytest.fixture
def other_franchisee_client(other_franchisee) -> Client:
    return _client_for(other_franchisee)


@pytest.fixture
def agent_client(agent) -> Client:
    return _client_for(agent)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return _client_for(supervisor)
