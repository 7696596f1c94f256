"""Who is connected right now, kept in the Django cache (Redis when REDIS_URL is set).

Each key counts the open sockets of one user (an agent being online, or a participant viewing
one conversation). Sockets add one on connect, take one away on disconnect and refresh the
key's time-to-live every HEARTBEAT_SECONDS, so a process that dies without cleaning up is
forgotten after PRESENCE_TTL seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.dispatch import Signal

# Sent (with `user_id`) when an agent's first socket opens / last socket closes, on whichever
# process saw it: chat.availability routes waiting chats and updates the supervisors' board.
agent_online = Signal()
agent_offline = Signal()
AGENT_PREFIX = "chat:agent-online:"

PRESENCE_TTL = 90
HEARTBEAT_SECONDS = 30


def agent_key(user_id: int) -> str:
    return f"{AGENT_PREFIX}{user_id}"


def viewer_key(conversation_id: int, user_id: int) -> str:
    return f"chat:viewing:{conversation_id}:{user_id}"


def _agent_of(key: str) -> int | None:
    return int(key[len(AGENT_PREFIX) :]) if key.startswith(AGENT_PREFIX) else None


def _transition(signal: Signal, key: str) -> None:
    user_id = _agent_of(key)
    if user_id is not None:
        signal.send_robust(sender=None, user_id=user_id)


def enter(key: str) -> int:
    """One more socket holds this key; returns how many do now."""
    cache.add(key, 0, PRESENCE_TTL)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, PRESENCE_TTL)
        count = 1
    cache.touch(key, PRESENCE_TTL)
    if count == 1:
        _transition(agent_online, key)
    return count


def enter_many(keys: list[str]) -> None:
    """`enter` for each key, in one Redis round trip when the cache is Redis (a socket's connect:
    its viewer key, and an agent's online key)."""
    client_of = getattr(cache, "redis_client", None)
    client = client_of() if client_of else None
    if client is None:
        for key in keys:
            enter(key)
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            raw = cache.make_key(key)
            pipe.set(raw, 0, ex=PRESENCE_TTL, nx=True)
            pipe.incr(raw)
            pipe.expire(raw, PRESENCE_TTL)
        replies = pipe.execute()
    except Exception as error:  # noqa: BLE001 - Redis down: the cache's own fallback, key by key
        cache.mark_down(error)
        for key in keys:
            enter(key)
        return
    for key, count in zip(keys, replies[1::3], strict=True):
        if count == 1:
            _transition(agent_online, key)


def leave(key: str) -> int:
    """One socket less; the key disappears with the last one. Returns how many remain."""
    try:
        remaining = cache.decr(key)
    except ValueError:
        return 0
    if remaining <= 0:
        cache.delete(key)
        _transition(agent_offline, key)
    return max(remaining, 0)


def heartbeat(keys: Iterable[str]) -> None:
    """Keep the keys of a live socket alive (re-created if they expired meanwhile)."""
    for key in keys:
        if not cache.touch(key, PRESENCE_TTL) and cache.add(key, 1, PRESENCE_TTL):
            _transition(agent_online, key)


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
