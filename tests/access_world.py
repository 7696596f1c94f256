"""The world the access-matrix checks run against (tests/test_security_access_matrix*.py, CSRF).

Centro's rows (a ticket with an attachment and a link, a conversation with a file, a published
article and a draft, macros, saved views, a notification) and one user per role.

`world` (the in-process HTTP checks) builds it once per module and worker, inside a transaction
that is rolled back when the module ends; every test runs in a savepoint of it (pytest-django's
`db`), as Django's `TestCase.setUpTestData` does, so what one test posts (closing, merging,
deleting) is gone before the next. It used to be rebuilt for every one of ~200 items (36 s of
setup per run). The WebSocket checks need the rows committed (their consumers read them from
other threads): `build_world()` in a transactional test (tests/test_security_access_matrix_ws.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from accounts.services import save_franchise, save_user


@dataclass
class World:
    users: dict  # role -> User or None
    values: dict  # placeholder -> value

    def url(self, rule) -> str:
        return rule.url.format(**self.values)

    def data(self, rule) -> dict:
        return {key: value.format(**self.values) for key, value in rule.data.items()}


def build_world() -> World:
    """Store the world (the caller sets MEDIA_ROOT and the database access)."""
    from chat import services as chat_services
    from chat.attachments import post_attachment
    from knowledge_base import services as kb_services
    from knowledge_base.models import Article
    from macros.services import create_macro
    from notifications.services import notify
    from tests.test_chat_attachments import png_file
    from tests.tickets_factories import make_ticket, png
    from tickets.services import link_tickets, save_view

    centro = save_franchise(code="centro", name="Franquicia Centro")[0]
    norte = save_franchise(code="norte", name="Franquicia Norte")[0]
    owner = save_user(username="owner", role="franchisee", franchise=centro)[0]
    other = save_user(username="other", role="franchisee", franchise=norte)[0]
    agent = save_user(username="agent", role="agent", first_name="Ana")[0]
    agent2 = save_user(username="agent2", role="agent", first_name="Bea")[0]
    colleague = save_user(username="colleague", role="franchisee", franchise=centro)[0]
    ticket = make_ticket(owner, attachments=[png()])
    other_ticket = make_ticket(owner, subject="Otro problema")
    link = link_tickets(ticket=ticket, actor=agent, kind="duplicates", other=other_ticket)
    conversation = chat_services.start_conversation(franchisee=owner, topic="El datáfono no conecta")
    chat_file, _created = post_attachment(
        conversation_id=conversation.pk, author=owner, upload=png_file(), client_id="matrix"
    )
    article = kb_services.create_article(
        actor=agent, title="Datáfono sin conexión", body="Reinicia el datáfono.", status=Article.Status.PUBLISHED
    )
    draft = kb_services.create_article(actor=agent, title="Borrador interno", body="Aún no.")
    macro = create_macro(actor=agent, name="firma", body="Un saludo, {{agente}}")
    foreign_macro = create_macro(actor=agent2, name="firma-bea", body="Bea")
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


@pytest.fixture(scope="module")
def stored_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The world, stored once for the module in a transaction rolled back at its end."""
    from django.db import transaction
    from django.test.utils import override_settings

    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("matrix-media")))
    media.enable()
    outer = transaction.atomic()
    try:
        with django_db_blocker.unblock():
            outer.__enter__()
            try:
                world = build_world()
            except BaseException:
                transaction.set_rollback(True)
                outer.__exit__(None, None, None)
                raise
        yield world
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
    finally:
        media.disable()


@pytest.fixture
def world(stored_world: World, db) -> World:
    """The stored world for one test (a savepoint of it): the users fetched again, so nothing a
    test does to a User object (a login's last_login) reaches the next test."""
    from accounts.models import User

    ids = [user.pk for user in stored_world.users.values() if user is not None]
    fresh = User.objects.in_bulk(ids)
    users = {role: None if user is None else fresh[user.pk] for role, user in stored_world.users.items()}
    return World(users=users, values=dict(stored_world.values))
