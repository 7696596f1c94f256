"""The grant check of a socket being opened, done inside the consumer's one connect hop (issue 13).

`SocketAuthMixin.sockauth_join()` reads the stamp (a thread hop), joins the user's group, then
checks the grant against the database (a second hop). The consumers of `/ws/chat/` and
`/ws/notifications/` do the same steps, in the same order, inside the one thread hop of their
connect (with the chat's conversation, presence and replay):

1. `prepare(consumer)` on the event loop: the grant from the scope and the name of the user's
   group, which the consumer joins (with its other groups, at once);
2. `check(opening)` in the consumer's connect thread, first thing: the stamp, then the grant —
   both read *after* the group was joined, so a change committed before the read is seen by
   it, and one committed after it reaches the socket as `sockauth.recheck` (and changes the
   stamp again, so the push guard re-checks too): the guarantees of docs/SECURITY.md "Socket
   lifetime" are those of `sockauth_join()`;
3. `settle(consumer, checked)` back on the loop.

The grant is read in one query when it can be: support_portal.socket_session read the session
row and the user a moment before (and checked the session's auth hash, which is made of the
user's password and session epoch); if the user row (active, role, franchise, password, session
epoch) and the session row (same data, unexpired) are still those, `verdict()` would find what
that read found, so the grant holds. Anything else — or sessions not in the database — gets the
full `verdict()`, which decides the close code. The same snapshot rule as chat.hot_path's
statement, which then needs no check of its own before the socket's first message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.socket_auth import Grant, grant_for, stamp, user_sockets_group, verdict

DB_SESSIONS = "django.contrib.sessions.backends.db"


@dataclass(frozen=True)
class Opening:
    """A socket's grant at connect and what its session read saw (None: not known)."""

    grant: Grant
    password: str | None = None
    session_epoch: int | None = None
    session_data: str | None = None


@dataclass(frozen=True)
class Checked:
    stamp: str
    code: int | None  # None: the grant holds
    unchanged: bool  # True: held by the one-query check (the Opening is a valid snapshot)


def prepare(consumer) -> Opening | None:
    """The socket's grant (None: not signed in) and its user group, set on the consumer."""
    consumer.sockauth_grant = grant = grant_for(consumer.scope)
    if grant is None:
        return None
    consumer.sockauth_group = user_sockets_group(grant.user_id)
    session, user = consumer.scope.get("session"), consumer.scope["user"]
    data = session.take_data() if hasattr(session, "take_data") else None  # support_portal.socket_session
    return Opening(grant, getattr(user, "password", None), getattr(user, "session_epoch", None), data)


UNCHANGED_SQL = """
SELECT 1 FROM {user} u WHERE u.id = %s AND u.is_active = %s AND u.role = %s
  AND (u.franchise_id = %s OR (u.franchise_id IS NULL AND %s IS NULL))
  AND u.password = %s AND u.session_epoch = %s
  AND EXISTS (SELECT 1 FROM {session} s WHERE s.session_key = %s AND s.session_data = %s AND s.expire_date > %s)
"""


def unchanged(opening: Opening) -> bool:
    """One query: are the user row and the session row still those the session read saw?
    (Plain SQL: building it with the ORM cost more CPU than the rest of the connect's check.)"""
    if opening.session_data is None or opening.password is None or settings.SESSION_ENGINE != DB_SESSIONS:
        return False
    from django.contrib.sessions.models import Session

    from accounts.models import User

    grant = opening.grant
    sql = UNCHANGED_SQL.format(user=User._meta.db_table, session=Session._meta.db_table)
    params = [grant.user_id, True, grant.role, grant.franchise_id, grant.franchise_id, opening.password]
    params += [opening.session_epoch, grant.session_key or "", opening.session_data, timezone.now()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def check(opening: Opening) -> Checked:
    """In a worker thread, after the user's group was joined: the stamp, then the grant."""
    current = stamp(opening.grant.user_id)
    if unchanged(opening):
        return Checked(current, None, True)
    return Checked(current, verdict(opening.grant), False)


def settle(consumer, checked: Checked) -> None:
    consumer.sockauth_stamp = checked.stamp
    if checked.code is not None:
        consumer.sockauth_ended = True
