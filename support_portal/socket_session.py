"""Who opened a WebSocket: the session cookie's user, read in one thread hop, and nothing else kept.

Replaces Channels' `AuthMiddlewareStack` (CookieMiddleware → SessionMiddleware → AuthMiddleware)
for the portal's sockets, with the same rules (`channels.auth.get_user`: the session names a user
of a configured backend and carries that user's current session auth hash, else the session is
flushed and the socket is anonymous), but:

- one thread hop reads the session row and the user row (support_portal.socket_threads), where
  the stack made two middleware layers and a lazy session;
- the scope keeps the user and `SocketSession` — the session *key*: the decoded session, the
  session store and the parsed cookies are dropped once the user is known. A socket never
  writes its session, and the grant checks (accounts.socket_auth) re-read the session row by key
  for the socket's whole life, so the key is all it needs (docs/SECURITY.md "Socket lifetime").
  With database sessions it also carries, until the consumer's connect takes it
  (`SocketSession.take_data`), the session row's data as read here, so the connect's grant check
  can be one query "nothing changed since" (accounts.socket_open);
- one scope copy and one coroutine frame per socket instead of three of each.

Every idle socket held these for its whole life (issue 13, docs/PERFORMANCE.md "Idle sockets").
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils.crypto import constant_time_compare

from support_portal import socket_threads

DB_SESSIONS = "django.contrib.sessions.backends.db"


class SocketSession:
    """What a socket keeps of its session: the key (None when there was no valid session), and
    until connect took it the session row's data as the user was read from it."""

    __slots__ = ("_data", "session_key")

    def __init__(self, session_key: str | None, data: str | None = None) -> None:
        self.session_key = session_key
        self._data = data

    def take_data(self) -> str | None:
        """The session row's data read with the user (database sessions), once: then forgotten."""
        data, self._data = self._data, None
        return data

    def __repr__(self) -> str:
        return "<SocketSession>"


def session_key_of(scope: dict) -> str | None:
    """The session cookie's value from the socket's `Cookie` header (as CookieMiddleware reads it)."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME) or None
    return None


def _load(session_key: str):
    """The session store, loaded; and with database sessions the row's data it was decoded from."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    if settings.SESSION_ENGINE != DB_SESSIONS:
        session.load()
        return session, None
    # The db SessionStore.load(), keeping the row it decodes (a missing or expired one: empty, keyless).
    row = session._get_session_from_db()
    session._session_cache = session.decode(row.session_data) if row else {}
    return session, row.session_data if row else None


def user_of(session_key: str | None):
    """(user or AnonymousUser, the session row's data or None) — channels.auth.get_user's rules,
    in a worker thread."""
    if not session_key:
        return AnonymousUser(), None
    session, data = _load(session_key)
    user = None
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            user = load_backend(backend_path).get_user(user_id)
            if hasattr(user, "get_session_auth_hash"):
                session_hash = session.get(HASH_SESSION_KEY)
                if not (session_hash and constant_time_compare(session_hash, user.get_session_auth_hash())):
                    session.flush()  # as Django and Channels do with a session of a changed password
                    user = None
    if user is None:
        return AnonymousUser(), None
    return user, data


class SocketSessionMiddleware:
    """ASGI middleware for WebSocket scopes: `scope["user"]` and `scope["session"]` (a SocketSession)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = session_key_of(scope)
        user, data = await socket_threads.run(user_of, key)
        session = SocketSession(key, data) if user.is_authenticated else SocketSession(None)
        return await self.inner(dict(scope, user=user, session=session), receive, send)
