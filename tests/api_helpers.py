"""Helpers for the API tests: clients that authenticate with a real personal token."""

from __future__ import annotations

from rest_framework.test import APIClient

from api.tokens import create_token


def token_for(user, name: str = "test") -> str:
    return create_token(user=user, name=name)[1]


def token_client(user=None, key: str | None = None) -> APIClient:
    """An API client sending `Authorization: Token <key>` (no session, no cookies)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key or token_for(user)}")
    return client
