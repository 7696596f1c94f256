"""The push crosses processes through the real Redis channel layer.

The test process holds a notification socket; a separate `manage.py shell` process (its own
throwaway migrated SQLite database, the same REDIS_URL) calls notify() — exactly what a Daphne or
Celery worker does in the scale-out setup.
"""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from accounts.models import User
from support_portal.asgi import application
from tests.conftest import require_env
from tests.servers import migrated_sqlite, session_cookie, ws_headers

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
RECIPIENT_ID = 4242

SENDER = f"""
from accounts.models import User
from notifications.services import notify
user = User.objects.create(pk={RECIPIENT_ID}, username="cross_process", role="agent")
notify(recipient=user, kind="sla_at_risk", title="Desde otro proceso", url="/tickets/9/")
"""


async def socket_of(pk: int, username: str) -> WebsocketCommunicator:
    """A socket of a real agent with a real session (a socket lives only while its session holds)."""
    user = await database_sync_to_async(User.objects.create)(pk=pk, username=username, role="agent")
    cookie = await database_sync_to_async(session_cookie)(user)
    return WebsocketCommunicator(application, "/ws/notifications/", headers=ws_headers(cookie))


async def test_a_notification_sent_in_another_process_reaches_this_socket(tmp_path):
    redis_url = require_env("REDIS_URL")
    assert "RedisChannelLayer" in type(get_channel_layer()).__name__
    communicator = await socket_of(RECIPIENT_ID, "cross_process")
    connected, _ = await communicator.connect()
    assert connected
    database_url = await asyncio.to_thread(migrated_sqlite, tmp_path / "sender.sqlite3")
    env = {
        **os.environ,
        "DEBUG": "true",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        SENDER,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == "notification"
    assert frame["title"] == "Desde otro proceso"
    assert frame["url"] == "/tickets/9/"
    assert frame["unread"] == 1
    await communicator.disconnect()


async def test_queue_frames_reach_agents_across_processes(tmp_path):
    redis_url = require_env("REDIS_URL")
    communicator = await socket_of(RECIPIENT_ID + 1, "agent_x")
    assert (await communicator.connect())[0]
    code = "from notifications.services import push_to_agents; push_to_agents({'type': 'queue', 'waiting': 3})"
    env = {**os.environ, "DEBUG": "true", "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        code,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert await communicator.receive_json_from(timeout=5) == {"type": "queue", "waiting": 3}
    await communicator.disconnect()
