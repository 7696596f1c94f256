"""A WebSocket is authorised for as long as the right to use it lasts, not only at connect.

One mechanism for every socket endpoint (docs/SECURITY.md "Socket lifetime"):

- At connect a socket records its *grant*: user, session key, role and franchise.
- The grant holds while the session still exists and still authenticates that user (Django's
  session auth hash: password and `User.session_epoch`), the user is active, and role and
  franchise are those of connect time. `verdict()` reads that from the database: `None` while it
  holds, else the close code (4401 signed out / deactivated, 4403 rights changed).
- Every change that can end a grant (a user saved with another role, franchise, active flag,
  password or session epoch; a user deleted; a session deleted — logout, "log out everywhere",
  `clearsessions`, the admin) calls `revoke(user_id)`: it changes the user's *stamp* in the cache
  at once and again on commit, and on commit sends `sockauth.recheck` to the user's group
  (`accounts.sockets.user.<id>`), which every socket of that user joins on every process.
- A socket re-reads its verdict on that message and before every client frame it acts on
  (nothing is stored after a change), and compares the stamp before every push (one cache read;
  a different stamp means a fresh verdict first), so nothing is pushed after a change either.

Consumers use `SocketAuthMixin` with a few calls: `sockauth_join()` in connect,
`sockauth_allows_receive()` / `sockauth_allows_push()` as guards, `sockauth_leave()` on disconnect.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from importlib import import_module

from asgiref.sync import sync_to_async
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache
from django.db import transaction
from django.utils.crypto import constant_time_compare

logger = logging.getLogger(__name__)

SIGNED_OUT = 4401
RIGHTS_CHANGED = 4403
GROUP_PREFIX = "accounts.sockets.user."
RECHECK = "sockauth.recheck"
WATCHED_FIELDS = ("role", "franchise_id", "is_active", "password", "session_epoch")


def user_sockets_group(user_id: int) -> str:
    """Channel-layer group of every socket of one user, whatever the endpoint."""
    return f"{GROUP_PREFIX}{user_id}"


def _stamp_key(user_id: int) -> str:
    return f"sockauth:stamp:{user_id}"


@dataclass(frozen=True)
class Grant:
    user_id: int
    session_key: str | None
    role: str
    franchise_id: int | None


def grant_for(scope: dict) -> Grant | None:
    """The grant of an authenticated socket scope (None for anonymous or inactive users)."""
    user = scope.get("user")
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    session = scope.get("session")
    return Grant(user.pk, getattr(session, "session_key", None), user.role, user.franchise_id)


def session_holds(session_key: str | None, user) -> bool:
    """True while the session exists, is not expired and still authenticates `user`."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()
    if str(data.get(SESSION_KEY, "")) != str(user.pk):
        return False
    stored = data.get(HASH_SESSION_KEY) or ""
    expected = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return bool(stored) and any(constant_time_compare(stored, value) for value in expected)


def verdict(grant: Grant) -> int | None:
    """None while the grant holds; otherwise the code to close the socket with."""
    from accounts.models import User

    user = User.objects.filter(pk=grant.user_id).only("pk", *WATCHED_FIELDS).first()
    if user is None or not user.is_active or not session_holds(grant.session_key, user):
        return SIGNED_OUT
    if user.role != grant.role or user.franchise_id != grant.franchise_id:
        return RIGHTS_CHANGED
    return None


def stamp(user_id: int) -> str:
    """The user's current stamp (changes whenever a grant of theirs may have ended)."""
    key = _stamp_key(user_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, uuid.uuid4().hex, None)
        value = cache.get(key)
    return value or ""


def _bump(user_id: int) -> None:
    try:
        cache.set(_stamp_key(user_id), uuid.uuid4().hex, None)
    except Exception:  # the cache is down: receive guards and rechecks still read the database
        logger.exception("could not change the socket stamp of user %s", user_id)


def _send_recheck(user_id: int) -> None:
    from channels.layers import get_channel_layer

    from notifications.push import group_send

    try:
        layer = get_channel_layer()
        if layer is not None:
            group_send(layer, user_sockets_group(user_id), {"type": RECHECK})
    except Exception:  # the layer is down: its sockets are down too, and reconnect through connect()
        logger.exception("could not ask the sockets of user %s to recheck", user_id)


def revoke(user_id: int) -> None:
    """A grant of this user may have ended: make every socket of theirs check before going on.

    The stamp changes now (pushes during the transaction already check the database) and again on
    commit, when the sockets are told to re-read their verdict against the committed state.
    """
    _bump(user_id)

    def after_commit() -> None:
        _bump(user_id)
        _send_recheck(user_id)

    transaction.on_commit(after_commit, robust=True)


def _db(func):
    """Database work off the event loop; parallel threads on PostgreSQL (see chat.consumers.writer)."""
    from support_portal.socket_threads import sqlite

    return DatabaseSyncToAsync(func, thread_sensitive=sqlite())  # not connection.vendor: see sqlite()


_cached_stamp = sync_to_async(stamp, thread_sensitive=False)  # at join


async def _push_stamp(user_id: int) -> str:
    """Before a push: read in a batch with the other pushes of the same loop turn."""
    from accounts.socket_stamps import batched_stamp

    return await batched_stamp(user_id)


class SocketAuthMixin:
    """Keep a consumer's socket open only while its grant holds (see the module docstring)."""

    sockauth_grant: Grant | None = None
    sockauth_stamp: str = ""
    sockauth_ended: bool = False
    sockauth_group: str | None = None

    async def sockauth_join(self) -> int | None:
        """Call in connect() for an authenticated user: joins the user's group and checks the
        grant once against the database. Returns None, or the code the caller must close with."""
        self.sockauth_grant = grant_for(self.scope)
        if self.sockauth_grant is None:
            return SIGNED_OUT
        self.sockauth_stamp = await _cached_stamp(self.sockauth_grant.user_id)
        self.sockauth_group = user_sockets_group(self.sockauth_grant.user_id)
        await self.join(self.sockauth_group)
        # Read after joining: a change committed before this is seen here, one after it by the recheck.
        code = await _db(verdict)(self.sockauth_grant)
        if code is not None:
            self.sockauth_ended = True
        return code

    async def sockauth_leave(self) -> None:
        if self.sockauth_group:
            await self.leave(self.sockauth_group)
            self.sockauth_group = None

    # A consumer that also uses chat.layer_guard.LayerGuard (listed before this mixin) gets its
    # join/leave, which survive an unreachable channel layer; these are the plain fallbacks.
    async def join(self, group: str) -> bool:
        await self.channel_layer.group_add(group, self.channel_name)
        return True

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)

    async def _sockauth_end(self, code: int) -> None:
        if not self.sockauth_ended:
            self.sockauth_ended = True
            await self.close(code=code)

    async def _sockauth_check(self) -> bool:
        if self.sockauth_ended or self.sockauth_grant is None:
            return False
        code = await _db(verdict)(self.sockauth_grant)
        if code is not None:
            await self._sockauth_end(code)
            return False
        return True

    async def sockauth_allows_receive(self) -> bool:
        """Before acting on a client frame: the committed state, read from the database."""
        return await self._sockauth_check()

    async def sockauth_allows_push(self) -> bool:
        """Before sending a server frame: one cache read while nothing changed."""
        if self.sockauth_ended or self.sockauth_grant is None:
            return False
        try:
            current = await _push_stamp(self.sockauth_grant.user_id)
        except Exception:  # cache down: fall back to the database
            logger.exception("socket stamp unreadable; checking the database instead")
            current = None
        if current is not None and current == self.sockauth_stamp:
            return True
        if not await self._sockauth_check():
            return False
        if current is not None:
            self.sockauth_stamp = current
        return True

    async def sockauth_recheck(self, event: dict) -> None:
        """Group message `sockauth.recheck`: something about this user changed."""
        await self._sockauth_check()
