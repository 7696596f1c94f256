"""Test helpers: a throw-away Whoosh index per test, so parallel runs never share var/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.test import override_settings

ENGINE = "knowledge_base.search_backends.KBWhooshEngine"


@contextmanager
def temporary_search_index(path: Path) -> Iterator[None]:
    """Point Haystack's default connection at a fresh Whoosh index under `path`."""
    from haystack import connections

    info = {"default": {"ENGINE": ENGINE, "PATH": str(path)}}
    saved_info = connections.connections_info
    saved = getattr(connections.thread_local, "connections", None)
    connections.connections_info = info
    connections.thread_local.connections = {}
    try:
        with override_settings(HAYSTACK_CONNECTIONS=info):
            yield
    finally:
        connections.connections_info = saved_info
        connections.thread_local.connections = saved if saved is not None else {}
