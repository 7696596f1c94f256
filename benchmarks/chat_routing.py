"""Chat routing cost: 200 waiting chats drained by route_waiting() to 10 available agents online.

Run on a scratch database (it creates and then deletes `bench_*` users and their chats):
    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python manage.py shell < benchmarks/chat_routing.py
Prints the wall and CPU time and the queries per routed chat (docs/CHAT.md "Availability and routing").
"""

import resource
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import save_franchise, save_user
from chat import dispatch, presence, services
from chat.models import AgentAvailability, Conversation

centro = save_franchise(code="bench-c", name="Bench")[0]
agents = [save_user(username=f"bench_ag{n}", role="agent", password="x-Very-long-1")[0] for n in range(10)]
for a in agents:
    AgentAvailability.objects.update_or_create(agent=a, defaults={"status": "away", "chat_capacity": 20})
frans = [
    save_user(username=f"bench_fr{n}", role="franchisee", franchise=centro, password="x-Very-long-1")[0]
    for n in range(40)
]
Conversation.objects.filter(franchisee__in=frans).delete()
ids = [services.start_conversation(franchisee=frans[n % 40], topic=f"Bench {n}").pk for n in range(200)]
for a in agents:
    presence.agent_connected(a.pk)
AgentAvailability.objects.filter(agent__in=agents).update(status="available")
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
with CaptureQueriesContext(connection) as q:
    routed = dispatch.route_waiting(limit=200)
t1 = time.perf_counter()
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
per = 1000 / routed
print(
    f"routed={routed} wall={(t1 - t0) * per:.1f} ms/chat cpu={cpu * per:.1f} ms/chat "
    f"queries/chat={len(q.captured_queries) / routed:.1f}"
)
for a in agents:
    presence.agent_disconnected(a.pk)
Conversation.objects.filter(franchisee__in=frans).delete()
for user in [*agents, *frans]:
    user.delete()
