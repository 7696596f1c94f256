"""Who is connected right now, kept in the Django cache (Redis when REDIS_URL is set).

Each key counts the open sockets of one user (an agent being online, or a participant viewing
one conversation). Sockets add one on connect, take one away on disconnect and refresh the
key's time-to-live every HEARTBEAT_SECONDS, so a process that dies without cleaning up is
forgotten after PRESENCE_TTL seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache

PRESENCE_TTL = 90
HEARTBEAT_SECONDS = 30


def agent_key(user_id: int) -> str:
    return f"chat:agent-online:{user_id}"


def viewer_key(conversation_id: int, user_id: int) -> str:
    return f"chat:viewing:{conversation_id}:{user_id}"


def enter(key: str) -> None:
    """One more socket holds this key."""
    cache.add(key, 0, PRESENCE_TTL)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, PRESENCE_TTL)
    cache.touch(key, PRESENCE_TTL)


def leave(key: str) -> None:
    """One socket less; the key disappears with the last one."""
    try:
        remaining = cache.decr(key)
    except ValueError:
        return
    if remaining <= 0:
        cache.delete(key)


def heartbeat(keys: Iterable[str]) -> None:
    """Keep the keys of a live socket alive (re-created if they expired meanwhile)."""
    for key in keys:
        if not cache.touch(key, PRESENCE_TTL):
            cache.add(key, 1, PRESENCE_TTL)


def is_viewing(conversation_id: int, user_id: int) -> bool:
    return bool(cache.get(viewer_key(conversation_id, user_id)))


def online_agent_ids(candidate_ids: Iterable[int]) -> set[int]:
    """The ids among `candidate_ids` with at least one open socket."""
    keys = {agent_key(pk): pk for pk in candidate_ids}
    if not keys:
        return set()
    found = cache.get_many(list(keys))
    return {keys[key] for key, count in found.items() if count}


# Hooks for other socket endpoints (e.g. /ws/notifications/) that also make an agent "online".
def agent_connected(user_id: int) -> None:
    enter(agent_key(user_id))


def agent_disconnected(user_id: int) -> None:
    leave(agent_key(user_id))


def agent_heartbeat(user_id: int) -> None:
    heartbeat([agent_key(user_id)])
