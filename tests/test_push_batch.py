"""The batched push (notifications.push.group_send_many) on the real Redis channel layer.

Receivers are channels-redis's own `receive`, so a stored message that differed from what
`layer.group_send` stores would fail here: the same frames, the same channels, capacity and group
expiry honoured, a Daphne process's several sockets served from its one key.
"""

import asyncio
import logging
import time
import uuid

import pytest
from channels_redis.core import RedisChannelLayer

from notifications.push import _has_batch_path, _sender_loop, group_send_many
from tests.conftest import require_env

pytestmark = pytest.mark.redis


@pytest.fixture
async def layer():
    layer = RedisChannelLayer(
        hosts=[require_env("REDIS_URL")], prefix=f"batch{uuid.uuid4().hex}", capacity=3, expiry=30, group_expiry=60
    )  # a prefix of its own: flush() below deletes only this test's keys
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
    assert _has_batch_path(layer)
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

    with caplog.at_level(logging.INFO, logger="notifications.push"):
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
    monkeypatch.setattr("notifications.push.BATCH_CHUNK", 7)
    channels = [await layer.new_channel(prefix=f"process{n}") for n in range(20)]  # 20 keys
    for n, channel in enumerate(channels):
        await layer.group_add(f"user.{n}", channel)

    await asyncio.to_thread(group_send_many, layer, [(f"user.{n}", {"type": "push.frame", "n": n}) for n in range(20)])

    assert [(await receive(layer, channel))["n"] for channel in channels] == list(range(20))
