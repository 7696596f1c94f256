"""The access matrix (tests/access_matrix.py) against the real URL resolver and WebSocket routes.

For every endpoint × {anonymous, owning franchisee, other franchisee, agent}: the stated outcome.
A new endpoint without an entry fails `test_every_endpoint_has_an_entry`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import save_franchise, save_user
from support_portal.asgi import application
from support_portal.routing import websocket_urlpatterns
from tests.access_matrix import (
    ADMIN_INDEX,
    ADMIN_OPEN,
    ADMIN_PREFIX,
    FOREIGN_ORIGIN_CLOSE,
    MATRIX,
    ROLES,
    WS_MATRIX,
    Rule,
)
from tests.servers import session_cookie, ws_headers
from tests.urlwalk import iter_routes


def _resolver_paths() -> set[str]:
    return {path for path, _name in iter_routes()}


def test_every_endpoint_has_an_entry():
    paths = _resolver_paths()
    missing = sorted(p for p in paths if p not in MATRIX and not p.startswith(ADMIN_PREFIX))
    assert not missing, f"endpoints without an access-matrix entry in tests/access_matrix.py: {missing}"
    stale = sorted(set(MATRIX) - paths)
    assert not stale, f"access-matrix entries for endpoints that no longer exist: {stale}"


def test_every_websocket_route_has_an_entry():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes == set(WS_MATRIX), f"WebSocket routes {routes} vs matrix {set(WS_MATRIX)}"


# --- the world every check runs against ------------------------------------------------------------


@dataclass
class World:
    users: dict  # role -> User or None
    values: dict  # placeholder -> value

    def url(self, rule: Rule) -> str:
        return rule.url.format(**self.values)

    def data(self, rule: Rule) -> dict:
        return {key: value.format(**self.values) for key, value in rule.data.items()}


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    from chat import services as chat_services
    from knowledge_base import services as kb_services
    from knowledge_base.models import Article
    from notifications.services import notify
    from tests.tickets_factories import make_ticket, png

    settings.MEDIA_ROOT = tmp_path / "media"
    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    norte = save_franchise(code="norte", name="Franquicia Norte")[0]
    owner = save_user(username="owner", role="franchisee", franchise=centro)[0]
    other = save_user(username="other", role="franchisee", franchise=norte)[0]
    agent = save_user(username="agent", role="agent", first_name="Ana")[0]
    agent2 = save_user(username="agent2", role="agent", first_name="Bea")[0]
    colleague = save_user(username="colleague", role="franchisee", franchise=centro)[0]
    ticket = make_ticket(owner, attachments=[png()])
    other_ticket = make_ticket(owner, subject="Otro problema")
    from tickets.services import link_tickets

    link = link_tickets(ticket=ticket, actor=agent, kind="duplicates", other=other_ticket)
    conversation = chat_services.start_conversation(franchisee=owner, topic="El datáfono no conecta")
    from chat.attachments import post_attachment
    from tests.test_chat_attachments import png_file

    chat_file, _created = post_attachment(
        conversation_id=conversation.pk, author=owner, upload=png_file(), client_id="matrix"
    )
    article = kb_services.create_article(
        actor=agent, title="Datáfono sin conexión", body="Reinicia el datáfono.", status=Article.Status.PUBLISHED
    )
    draft = kb_services.create_article(actor=agent, title="Borrador interno", body="Aún no.")
    from macros.services import create_macro

    macro = create_macro(actor=agent, name="firma", body="Un saludo, {{agente}}")
    foreign_macro = create_macro(actor=agent2, name="firma-bea", body="Bea")
    from tickets.services import save_view

    saved_view = save_view(actor=agent, name="Urgentes", query="priority=urgent")
    foreign_view = save_view(actor=agent2, name="De Bea", query="view=mine", shared=True)
    notification = notify(
        recipient=owner, kind="ticket_status", title="Tu ticket cambió", url=ticket.get_absolute_url()
    )
    return World(
        users={"anonymous": None, "owner": owner, "other": other, "agent": agent},
        values={
            "ticket": ticket.pk,
            "attachment": ticket.attachments.first().pk,
            "other_ticket": other_ticket.pk,
            "conversation": conversation.pk,
            "chat_attachment": chat_file.attachment_id,
            "article": article.slug,
            "draft": draft.slug,
            "revision": article.revisions.order_by("number").first().number,
            "notification": notification.pk,
            "agent_id": agent2.pk,
            "macro": macro.pk,
            "foreign_macro": foreign_macro.pk,
            "colleague_id": colleague.pk,
            "owner_id": owner.pk,
            "other_id": other.pk,
            "link": link.pk,
            "saved_view": saved_view.pk,
            "foreign_view": foreign_view.pk,
        },
    )


MISSING = {
    "ticket": 999_999,
    "attachment": 999_999,
    "conversation": 999_999,
    "chat_attachment": 999_999,
    "notification": 999_999,
    "article": "no-such-article",
    "draft": "no-such-draft",
    "revision": 999,
    "macro": 999_999,
    "foreign_macro": 999_999,
    "link": 999_999,
    "saved_view": 999_999,
    "foreign_view": 999_999,
}


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _matches(expected: str, response) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    to_login = status == 302 and ("/accounts/login/" in location or "/admin/login/" in location)
    if expected == "login":
        return to_login
    if expected == "ran":
        return 200 <= status < 300 or (300 <= status < 400 and not to_login) or status in (400, 409)
    return status == int(expected) and not (300 <= status < 400 and to_login)


def _cases() -> list[tuple[str, int]]:
    return [(path, index) for path, rules in sorted(MATRIX.items()) for index in range(len(rules))]


@pytest.mark.parametrize(("path", "index"), _cases(), ids=lambda v: str(v))
def test_http_endpoint_gives_each_role_its_outcome(world, path, index):
    rule = MATRIX[path][index]
    failures = []
    # Refused roles first, so an allowed action (closing, merging…) cannot hide a leak.
    for role in ("anonymous", "other", "owner", "agent"):
        for method in rule.methods:
            expected = rule.expected(method)[role]
            client = _client(world.users[role])
            url = world.url(rule)
            response = client.get(url) if method == "GET" else client.post(url, world.data(rule))
            if not _matches(expected, response):
                failures.append(f"{method} {url} as {role}: expected {expected}, got {response.status_code}")
            if role == "other" and expected == "404" and "{" in rule.url:
                # Another franchise's row and a row that does not exist must look the same.
                missing = World(world.users, {k: MISSING.get(k, v) for k, v in world.values.items()})
                ghost = (
                    client.get(missing.url(rule))
                    if method == "GET"
                    else client.post(missing.url(rule), missing.data(rule))
                )
                if ghost.status_code != response.status_code:
                    failures.append(
                        f"{method} {url} as other: {response.status_code}, missing row: {ghost.status_code}"
                    )
    assert not failures, "\n".join(failures)


def test_admin_is_for_staff_only(db):
    """Anonymous visitors and franchisees never get an admin page: a login page instead."""
    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    franchisee = save_user(username="owner", role="franchisee", franchise=centro)[0]
    paths = sorted(p for p in _resolver_paths() if p.startswith(ADMIN_PREFIX) and p not in ADMIN_OPEN)
    assert len(paths) > 20
    failures = []
    for user in (None, franchisee):
        client = _client(user)
        for path in paths:
            response = client.get(path)
            location = response.get("Location", "")
            to_login = "/admin/login/" in location or "/accounts/login/" in location
            if not (response.status_code == 404 or (response.status_code == 302 and to_login)):
                failures.append(f"{path} as {user or 'anonymous'}: {response.status_code} {location}")
    assert not failures, "\n".join(failures)


def test_admin_index_matrix(world):
    for role, expected in ADMIN_INDEX.expected("GET").items():
        response = _client(world.users[role]).get(ADMIN_INDEX.url)
        assert _matches(expected, response), (role, response.status_code)


# --- WebSocket routes -------------------------------------------------------------------------------


async def _ws_outcome(path: str, user, origin: str = "http://127.0.0.1") -> str:
    cookie = await database_sync_to_async(session_cookie)(user) if user is not None else "no-session"
    communicator = WebsocketCommunicator(application, path, headers=ws_headers(cookie, origin))
    connected, _ = await communicator.connect(timeout=3)
    if not connected:
        return "refused"
    while not await communicator.receive_nothing(timeout=0.3):
        output = await communicator.receive_output(timeout=1)
        if output["type"] == "websocket.close":
            return str(output.get("code"))
        json.loads(output["text"])  # every frame is JSON
    await communicator.disconnect()
    return "open"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(WS_MATRIX))
async def test_websocket_route_gives_each_role_its_outcome(world, route):
    rule = WS_MATRIX[route]
    path = world.url(rule)
    failures = []
    for role in ROLES:
        outcome = await _ws_outcome(path, world.users[role])
        if outcome != rule.expected("GET")[role]:
            failures.append(f"{path} as {role}: expected {rule.expected('GET')[role]}, got {outcome}")
    foreign = await _ws_outcome(path, world.users["owner"], origin="https://evil.example")
    if foreign != FOREIGN_ORIGIN_CLOSE:
        failures.append(f"{path} from a foreign Origin: expected {FOREIGN_ORIGIN_CLOSE}, got {foreign}")
    assert not failures, "\n".join(failures)
