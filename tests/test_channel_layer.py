"""The portal's Redis channel layer (support_portal.channel_layer) on a real Redis.

Sends in batches (notifications.push.group_send_many), receives prefetched batches of a process's
channels, and stores what channels-redis stores: upstream's RedisChannelLayer receives what this
one sends and the other way round (a rolling deploy mixes them), with capacity, group expiry and
order kept, a Daphne process's several sockets served from its one key, and nothing lost when the
reply of a pop never arrives.
"""

import asyncio
import contextlib
import logging
import time
import uuid

import pytest
from channels_redis.core import RedisChannelLayer
from redis.exceptions import ResponseError

from notifications.push import _sender_loop, group_send_many
from support_portal.channel_layer import PortalRedisChannelLayer
from tests.conftest import require_env

pytestmark = pytest.mark.redis


def make_layer(cls=PortalRedisChannelLayer, prefix: str = "", capacity: int = 3):
    """A layer with a key prefix of its own: flush() deletes only this test's keys."""
    prefix = prefix or f"t{uuid.uuid4().hex}"
    return cls(hosts=[require_env("REDIS_URL")], prefix=prefix, capacity=capacity, group_expiry=60)


@pytest.fixture
async def layer(request):
    layer = make_layer(capacity=getattr(request, "param", 3))
    yield layer
    sender = _sender_loop()  # the batch ran there: close its connections on their own loop
    if sender in layer._layers:
        pools = layer._layers.pop(sender)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(pools.flush(), sender))
    await layer.flush()  # deletes the test's keys, then closes this loop's connections


async def receive(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


async def nothing_waiting(layer, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), timeout=0.3)
    except TimeoutError:
        return True
    return False


async def test_every_group_gets_its_own_frame_as_group_send_would_deliver_it(layer):
    process_a = await layer.new_channel()  # two sockets of one Daphne process share a key
    process_b = f"{process_a.split('!')[0]}!second"
    other_process = await layer.new_channel(prefix="other")
    plain = "plain-channel"
    await layer.group_add("user.1", process_a)
    await layer.group_add("user.1", other_process)
    await layer.group_add("user.2", process_b)
    await layer.group_add("user.3", plain)
    sends = [
        ("user.1", {"type": "push.frame", "frame": {"n": 1}}),
        ("user.2", {"type": "push.frame", "frame": {"n": 2}}),
        ("user.3", {"type": "push.frame", "frame": {"n": 3, "texto": "atención"}}),
        ("user.nobody", {"type": "push.frame", "frame": {"n": 4}}),
    ]

    await asyncio.to_thread(group_send_many, layer, sends)

    assert await receive(layer, process_a) == {"type": "push.frame", "frame": {"n": 1}}
    assert await receive(layer, other_process) == {"type": "push.frame", "frame": {"n": 1}}
    assert await receive(layer, process_b) == {"type": "push.frame", "frame": {"n": 2}}
    assert await receive(layer, plain) == {"type": "push.frame", "frame": {"n": 3, "texto": "atención"}}
    # The same message through channels-redis's own group_send arrives identically.
    await layer.group_send("user.2", {"type": "push.frame", "frame": {"n": 2}})
    assert await receive(layer, process_b) == {"type": "push.frame", "frame": {"n": 2}}
    for channel in (process_a, process_b, other_process, plain):
        assert await nothing_waiting(layer, channel)


async def test_several_frames_to_one_socket_arrive_in_order(layer):
    channel = await layer.new_channel()
    await layer.group_add("user.7", channel)
    await layer.group_add("agents", channel)
    sends = [("user.7", {"type": "push.frame", "n": 1}), ("agents", {"type": "push.frame", "n": 2})]

    await asyncio.to_thread(group_send_many, layer, sends)

    assert [(await receive(layer, channel))["n"] for _ in sends] == [1, 2]


async def test_a_full_channel_drops_the_excess_and_says_so(layer, caplog):
    channel = await layer.new_channel()
    await layer.group_add("user.9", channel)
    sends = [("user.9", {"type": "push.frame", "n": n}) for n in range(5)]  # capacity is 3

    with caplog.at_level(logging.INFO, logger="support_portal.channel_layer"):
        await asyncio.to_thread(group_send_many, layer, sends)

    assert [(await receive(layer, channel))["n"] for _ in range(3)] == [0, 1, 2]
    assert await nothing_waiting(layer, channel)
    assert "2 of 5 channel messages over capacity" in caplog.text


async def test_a_member_past_the_group_expiry_is_not_sent_to(layer):
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.5", fresh)
    connection = layer.connection(layer.consistent_hash("user.5"))
    await connection.zadd(layer._group_key("user.5"), {stale: int(time.time()) - 120})

    await asyncio.to_thread(group_send_many, layer, [("user.5", {"type": "push.frame"})])

    assert await receive(layer, fresh) == {"type": "push.frame"}
    assert await nothing_waiting(layer, stale)
    assert await connection.zrange(layer._group_key("user.5"), 0, -1) == [fresh.encode()]


async def test_a_batch_larger_than_one_script_call(layer, monkeypatch):
    monkeypatch.setattr("support_portal.channel_layer.SEND_CHUNK", 7)
    channels = [await layer.new_channel(prefix=f"process{n}") for n in range(20)]  # 20 keys
    for n, channel in enumerate(channels):
        await layer.group_add(f"user.{n}", channel)

    await asyncio.to_thread(group_send_many, layer, [(f"user.{n}", {"type": "push.frame", "n": n}) for n in range(20)])

    assert [(await receive(layer, channel))["n"] for channel in channels] == list(range(20))


async def test_upstream_layer_and_this_one_exchange_messages(layer):
    upstream = make_layer(RedisChannelLayer, prefix=layer.prefix)
    try:
        ours, theirs = await layer.new_channel(), await upstream.new_channel()
        await layer.group_add("room", ours)
        await layer.group_add("room", theirs)
        await upstream.group_send("room", {"type": "chat.message", "from": "upstream"})
        await layer.group_send("room", {"type": "chat.message", "from": "portal"})
        assert [(await receive(layer, ours))["from"] for _ in range(2)] == ["upstream", "portal"]
        assert [(await receive(upstream, theirs))["from"] for _ in range(2)] == ["upstream", "portal"]
    finally:
        await upstream.close_pools()


@pytest.mark.parametrize("layer", [100], indirect=True)  # capacity: ten messages in one process key
async def test_waiting_messages_arrive_in_order_from_prefetched_batches(layer, monkeypatch):
    monkeypatch.setattr("support_portal.channel_layer.PREFETCH", 4)
    first, second = await layer.new_channel(), f"{(await layer.new_channel()).split('!')[0]}!other"
    for n in range(10):
        await layer.send(first if n % 3 else second, {"type": "m", "n": n})
    got = [(await receive(layer, first))["n"] for _ in range(6)]
    assert got == [1, 2, 4, 5, 7, 8]
    assert [(await receive(layer, second))["n"] for _ in range(4)] == [0, 3, 6, 9]
    assert await nothing_waiting(layer, first)


async def test_a_receive_cancelled_while_its_pop_is_answered_loses_nothing(layer, monkeypatch):
    """The socket whose receive runs the pop closes just as Redis answers: another gets the message."""
    connection = layer.connection(0)
    answered, release = asyncio.Event(), asyncio.Event()
    real_bzmpop = connection.bzmpop

    async def slow_reader(*args, **kwargs):  # Redis has answered; reading the reply takes a while
        result = await real_bzmpop(*args, **kwargs)
        if result:
            answered.set()
            await release.wait()
        return result

    monkeypatch.setattr(connection, "bzmpop", slow_reader)
    closing, staying = await layer.new_channel(), await layer.new_channel()
    closing_receive = asyncio.ensure_future(layer.receive(closing))
    await layer.send(staying, {"type": "m", "n": 1})
    await asyncio.wait_for(answered.wait(), timeout=5)  # popped from Redis, held by the pop
    closing_receive.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing_receive
    release.set()

    assert (await receive(layer, staying))["n"] == 1


async def test_a_shared_channel_keeps_upstreams_receive(layer):
    await layer.send("worker-queue", {"type": "job", "n": 1})
    await layer.send("worker-queue", {"type": "job", "n": 2})
    assert (await receive(layer, "worker-queue"))["n"] == 1
    key = layer.prefix + "worker-queue"
    assert await layer.connection(0).zcard(key) == 1  # the second is still there for another worker
    assert (await receive(layer, "worker-queue"))["n"] == 2


async def test_a_redis_without_bzmpop_still_delivers(layer, monkeypatch):
    async def unknown(*args, **kwargs):
        raise ResponseError("unknown command 'BZMPOP', with args beginning with: ")

    monkeypatch.setattr(layer.connection(0), "bzmpop", unknown)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "m", "n": 1})
    await layer.send(channel, {"type": "m", "n": 2})
    assert [(await receive(layer, channel))["n"] for _ in range(2)] == [1, 2]
