"""Where a change comes from: web page, API, admin, e-mail, chat or a scheduled task.

`tickets.services._event` stamps every timeline event with the current channel (`Event.via`),
so the supervisors' audit log (`/agent/audit/`) can tell an API call from a page click or
a Celery task. Entry points set it: `ChannelMiddleware` for HTTP (by path), `via("task")` in
the Celery tasks and commands, `via("email")` in `mail.services.ingest`. Nothing set: "system".
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("tickets_audit_via", default=None)


def current(default: str = "system") -> str:
    """The channel of the change being made now."""
    return _current.get() or default


@contextmanager
def via(channel: str) -> Iterator[None]:
    """Mark the changes made inside the block as coming from `channel` (an `Event.Via` value)."""
    token = _current.set(channel)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def default(channel: str) -> Iterator[None]:
    """`via(channel)` unless an entry point already set one (a chat's ticket opened over the API
    stays "api"; opened from the chat socket, which sets nothing, it is "chat")."""
    with via(_current.get() or channel):
        yield


def channel_of(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


class ChannelMiddleware:
    """HTTP requests: the API, the admin or a page, told apart by the path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with via(channel_of(request.path_info)):
            return self.get_response(request)
