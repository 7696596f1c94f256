"""Collision detection across two Daphne processes sharing the Redis channel layer: an agent on
one process sees a colleague on the other arrive, write and leave."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from tests.conftest import require_env
from tests.servers import ROOT, cross_process_env, daphne

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SETUP = """
import json, django
django.setup()
from accounts.services import save_franchise, save_user
from tests.servers import session_cookie
from tests.tickets_factories import make_ticket
centro = save_franchise(code="centro", name="Franquicia Centro")[0]
fran = save_user(username="fran_x", role="franchisee", franchise=centro)[0]
ana = save_user(username="ana_x", role="agent", first_name="Ana")[0]
bea = save_user(username="bea_x", role="agent", first_name="Bea")[0]
ticket = make_ticket(fran)
print(json.dumps({"ticket": ticket.pk, "ana": session_cookie(ana), "bea": session_cookie(bea),
                  "ana_id": ana.pk, "bea_id": bea.pk}))
"""


def prepare(env: dict[str, str]) -> dict:
    full = {**env, "DJANGO_SETTINGS_MODULE": "support_portal.settings", "PYTHONPATH": str(ROOT)}
    run = {"cwd": ROOT, "env": full, "check": True, "capture_output": True, "text": True}
    output = subprocess.run([sys.executable, "-c", SETUP], **run).stdout
    return json.loads(output.strip().splitlines()[-1])


async def open_socket(port: int, cookie: str, ticket: int):
    return await connect(
        f"ws://127.0.0.1:{port}/ws/tickets/{ticket}/presence/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={cookie}"},
    )


async def viewers_until(ws, predicate, timeout: float = 10) -> list[dict]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == "viewers" and predicate(frame["viewers"]):
            return frame["viewers"]


async def scenario(data: dict, port_a: int, port_b: int) -> None:
    ana = await open_socket(port_a, data["ana"], data["ticket"])
    assert await viewers_until(ana, lambda v: True) == []
    bea = await open_socket(port_b, data["bea"], data["ticket"])
    assert [v["id"] for v in await viewers_until(bea, lambda v: len(v) == 1)] == [data["ana_id"]]
    assert [v["id"] for v in await viewers_until(ana, lambda v: len(v) == 1)] == [data["bea_id"]]
    await bea.send(json.dumps({"type": "typing"}))
    assert (await viewers_until(ana, lambda v: v and v[0]["typing"]))[0]["name"] == "Bea"
    await bea.close()
    assert await viewers_until(ana, lambda v: v == []) == []
    await ana.close()


def test_presence_across_two_daphne_processes(tmp_path):
    env = cross_process_env(tmp_path, require_env("REDIS_URL"))
    data = prepare(env)
    with (
        daphne(env, log_path=tmp_path / "a.log") as (port_a, _),
        daphne(env, log_path=tmp_path / "b.log") as (port_b, _),
    ):
        asyncio.run(scenario(data, port_a, port_b))
