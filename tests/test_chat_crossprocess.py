"""Two Daphne processes sharing the Redis channel layer and one database: the franchisee talks
to one, the agent to the other, over real WebSockets with a session cookie and an allowed Origin."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest
from websockets.asyncio.client import connect

from tests.conftest import require_env
from tests.servers import ROOT, cross_process_env, daphne

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SETUP = """
import json, django
django.setup()
from accounts.services import save_franchise, save_user
from chat import services
from tests.servers import session_cookie
centro = save_franchise(code="centro", name="Franquicia Centro")[0]
fran = save_user(username="fran_x", role="franchisee", franchise=centro, password="Xx-12345-pass")[0]
agent = save_user(username="agent_x", role="agent", password="Xx-12345-pass")[0]
conversation = services.start_conversation(franchisee=fran, topic="Entre procesos")
services.accept_conversation(conversation_id=conversation.pk, agent=agent)
print(json.dumps({"conversation": conversation.pk, "fran": session_cookie(fran), "agent": session_cookie(agent),
                  "fran_id": fran.pk, "agent_id": agent.pk}))
"""


def prepare(env: dict[str, str]) -> dict:
    """Users, a conversation and two sessions in the shared database (migrated: cross_process_env)."""
    full = {**env, "DJANGO_SETTINGS_MODULE": "support_portal.settings", "PYTHONPATH": str(ROOT)}
    run = {"cwd": ROOT, "env": full, "check": True, "capture_output": True, "text": True}
    output = subprocess.run([sys.executable, "-c", SETUP], **run).stdout
    return json.loads(output.strip().splitlines()[-1])


class Peer:
    def __init__(self, port: int, cookie: str, conversation: int) -> None:
        self.port, self.cookie, self.conversation = port, cookie, conversation
        self.ws = None

    async def open(self, after: int | None = None) -> list[dict]:
        query = f"?after={after}" if after is not None else ""
        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/chat/{self.conversation}/{query}",
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": f"sessionid={self.cookie}"},
        )
        return await self.until("conversation")

    async def until(self, kind: str, timeout: float = 5) -> list[dict]:
        frames = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            frames.append(frame)
            if frame["type"] == kind:
                return frames

    async def quiet(self, seconds: float = 0.5) -> list[dict]:
        frames = []
        try:
            while True:
                frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), seconds)))
        except TimeoutError:
            return frames

    async def say(self, body: str, client_id: str | None = None) -> None:
        await self.ws.send(
            json.dumps({"type": "message.send", "client_id": client_id or str(uuid.uuid4()), "body": body})
        )


def test_two_daphne_processes_on_redis(tmp_path):
    redis_url = require_env("REDIS_URL")
    env = cross_process_env(tmp_path, redis_url)
    data = prepare(env)
    with (
        daphne(env, log_path=tmp_path / "a.log") as (port_a, _),
        daphne(env, log_path=tmp_path / "b.log") as (port_b, _),
    ):
        asyncio.run(scenario(data, port_a, port_b))


async def scenario(data: dict, port_a: int, port_b: int) -> None:
    fran = Peer(port_a, data["fran"], data["conversation"])
    agent = Peer(port_b, data["agent"], data["conversation"])
    replay = await fran.open()
    await agent.open()
    assert replay[-1]["status"] == "active"

    # delivery both ways across processes
    await fran.say("hola desde A", "f-1")
    got = (await agent.until("message"))[-1]
    assert (got["body"], got["author"]["id"]) == ("hola desde A", data["fran_id"])
    await fran.until("message")  # the sender's own echo
    await agent.say("hola desde B", "a-1")
    got = (await fran.until("message"))[-1]
    assert (got["body"], got["author"]["id"]) == ("hola desde B", data["agent_id"])
    last_seen = got["id"]
    await agent.until("message")

    # resume after a dropped connection: nothing lost, nothing repeated
    await fran.ws.close()
    await agent.say("mientras estabas fuera 1", "a-2")
    await agent.say("mientras estabas fuera 2", "a-3")
    await agent.until("message")
    await agent.until("message")
    fran.port = port_b  # reconnect to the other process
    replay = await fran.open(after=last_seen)
    bodies = [f["body"] for f in replay if f["type"] == "message"]
    assert bodies == ["mientras estabas fuera 1", "mientras estabas fuera 2"]

    # a retried client_id is answered with the original and stored once
    await fran.say("hola desde A", "f-1")
    retry = (await fran.until("message"))[-1]
    assert retry["client_id"] == "f-1"
    assert not [f for f in await agent.quiet() if f["type"] == "message"]
    check = Peer(port_a, data["agent"], data["conversation"])
    everything = await check.open()
    assert [f["client_id"] for f in everything if f["type"] == "message"].count("f-1") == 1
    ids = [f["id"] for f in everything if f["type"] == "message"]
    assert len(ids) == len(set(ids))
    for peer in (fran, agent, check):
        await peer.ws.close()
