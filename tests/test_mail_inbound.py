"""Inbound e-mail: real messages from tests/data/email through ingest_email (in process and as a
subprocess with the message on stdin), the signed reply addresses and the outgoing headers."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from mail.addresses import BadToken, make_token, read_token, reply_address
from mail.models import InboundMessage
from mail.services import ingest
from notifications.tasks import build_email
from tests.servers import ROOT
from tickets import services
from tickets.models import Attachment, Comment, Status, Ticket

DATA = Path(__file__).parent / "data" / "email"


@pytest.fixture
def fran(franchisee):
    franchisee.email = "fran@centro.example"
    franchisee.save(update_fields=["email"])
    return franchisee


@pytest.fixture
def ticket(fran):
    return services.create_ticket(actor=fran, subject="Impresora", description="No imprime")


def message(name: str, ticket: Ticket | None = None, user=None) -> bytes:
    raw = (DATA / name).read_bytes()
    if ticket is not None:
        raw = raw.replace(b"TOKEN_ADDR", reply_address(ticket.pk, (user or ticket.requester).pk).encode())
    return raw


# --- reply addresses ------------------------------------------------------------------


def test_token_round_trip_forgery_and_expiry(settings):
    token = make_token(12, 34)
    assert read_token(token).ticket_id == 12 and read_token(token.upper()).user_id == 34
    forged = token.replace("c-22-", "d-22-", 1) if "c-22-" in token else "d" + token[1:]
    with pytest.raises(BadToken, match="forged"):
        read_token(forged)
    old = make_token(12, 34, today=dt.date.today() - dt.timedelta(days=settings.INBOUND_EMAIL_REPLY_DAYS + 2))
    with pytest.raises(BadToken, match="expired"):
        read_token(old)


def test_outgoing_ticket_email_has_reply_to_threading_and_marker(fran, ticket, agent):
    services.add_comment(ticket=ticket, actor=agent, body="¿Has probado a reiniciar?")
    notification = fran.notifications.filter(kind="ticket_comment").get()
    email = build_email(notification)
    headers = email.message()
    assert headers["Reply-To"].startswith("soporte+") and headers["Reply-To"].endswith("@franquicias.example")
    assert read_token(headers["Reply-To"].split("+")[1].split("@")[0]).user_id == fran.pk
    assert headers["References"] == f"<ticket-{ticket.pk}@franquicias.example>" == headers["In-Reply-To"]
    assert headers["Message-ID"].endswith("@franquicias.example>")
    assert email.body.startswith("## Responde por encima de esta línea ##")
    fran.preferred_language = "en"
    fran.save(update_fields=["preferred_language"])
    assert build_email(notification).body.startswith("## Reply above this line ##")


# --- the ingestion service (both database backends) -------------------------------------


def test_gmail_spanish_reply_becomes_public_comment(fran, ticket):
    outcome = ingest(message("reply_gmail_es.eml", ticket))
    assert (outcome.code, outcome.stored) == (0, True), outcome.reason
    comment = Comment.objects.get(ticket=ticket, author=fran)
    assert comment.body == "Ya funciona, gracias. Lo he reiniciado dos veces."
    assert not comment.internal
    again = ingest(message("reply_gmail_es.eml", ticket))  # same Message-ID: nothing new
    assert (again.code, again.stored) == (0, False)
    assert Comment.objects.filter(ticket=ticket).count() == 1


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("reply_outlook_en_cp1252.eml", "The printer prints again – thanks!"),
        ("reply_gmail_en.eml", "It works now, thanks. The till prints again."),
        (
            "reply_outlook_desktop_es_cp1252.eml",
            "La impresora ya imprime, pero el cajón no se abre “a veces”.\n\nUn saludo",
        ),
        ("reply_apple_es_html_logo.eml", "Perfecto, gracias."),
    ],
)
def test_client_quoting_and_charsets(fran, ticket, name, body):
    outcome = ingest(message(name, ticket))
    assert outcome.code == 0, outcome.reason
    comment = Comment.objects.get(ticket=ticket)
    assert comment.body == body
    assert not comment.attachments.exists()  # an inline signature logo is not an attachment


def test_outlook_spanish_reply_with_attachment(fran, ticket):
    assert ingest(message("reply_outlook_es_attachment.eml", ticket)).code == 0
    comment = Comment.objects.get(ticket=ticket)
    assert comment.body == "Os adjunto el registro del TPV."
    attachment = Attachment.objects.get(comment=comment)
    assert attachment.original_name == "tpv.log" and attachment.size > 0


def test_new_mail_from_franchisee_opens_ticket_latin1(fran):
    outcome = ingest(message("new_latin1_qp.eml"))
    assert outcome.code == 0, outcome.reason
    ticket = Ticket.objects.get()
    assert (ticket.source, ticket.franchise_id, ticket.requester_id) == ("email", fran.franchise_id, fran.pk)
    assert ticket.subject == "El datáfono no conecta"
    assert "desde esta mañana" in ticket.description


def test_html_only_mail_is_sanitised_text(fran):
    assert ingest(message("new_html_only.eml")).code == 0
    description = Ticket.objects.get().description
    assert "**impresora**" in description and "HP" in description
    for bad in ("<script", "alert", "onclick", "javascript:", "color:red"):
        assert bad not in description


def test_reply_to_closed_ticket_opens_linked_follow_up(fran, ticket, agent):
    services.close(ticket=ticket, actor=agent)
    outcome = ingest(message("reply_gmail_es.eml", ticket))
    assert outcome.code == 0, outcome.reason
    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert follow_up.follow_up_of_id == ticket.pk and follow_up.source == "email"
    assert follow_up.events.filter(kind="follow_up").exists()
    assert Comment.objects.count() == 0  # nothing added to the closed ticket itself
    from django.test import Client

    client = Client()
    client.force_login(fran)
    page = client.get(follow_up.get_absolute_url()).content.decode()
    assert f"Continúa el ticket cerrado {ticket.number}" in page


@pytest.mark.parametrize(
    ("name", "code"),
    [("auto_reply.eml", 0), ("bounce.eml", 0), ("unknown_sender.eml", 67), ("garbage.eml", 65)],
)
def test_refused_or_ignored_store_nothing(fran, ticket, name, code):
    outcome = ingest(message(name, ticket))
    assert (outcome.code, outcome.stored) == (code, False), outcome.reason
    assert not Comment.objects.exists() and Ticket.objects.count() == 1 and not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"From: fran@centro.example\nTo: soporte@franquicias.example\nSubject: x\nContent-Type: multipart/mixed;"
        b' boundary="nope"\n\n--other\nContent-Type: text/plain\n\nhola\n',
        b"From: fran@centro.example\nTo: soporte@franquicias.example\nSubject: x\nContent-Type: text/plain;"
        b" charset=x-unknown-charset\nContent-Transfer-Encoding: base64\n\n@@@not base64@@@\n",
        b"From: undisclosed-recipients:;\nTo: soporte@franquicias.example\n\nhola\n",
        b"From: \xff\xfe <fran@centro.example>\nTo: soporte@franquicias.example\nSubject: \xe9t\xe9\n\nhola\n",
        b"From: fran@centro.example\nTo: =?utf-8?q?broken <soporte@franquicias.example>\n\n\x00\x01\x02\n",
        b"\x00" * 100,
    ],
)
def test_malformed_messages_get_a_contract_exit_code(fran, raw):
    outcome = ingest(raw)
    assert outcome.code in (0, 65, 67), outcome.reason


def test_sender_must_match_token_recipient(fran, ticket, other_franchisee, agent):
    other_franchisee.email = "intruso@norte.example"
    other_franchisee.save(update_fields=["email"])
    raw = message("reply_gmail_es.eml", ticket).replace(b"fran@centro.example", b"intruso@norte.example")
    assert ingest(raw).code == 67
    forged = message("reply_gmail_es.eml", ticket).replace(b"soporte+", b"soporte+0", 1)
    assert ingest(forged).code == 67
    assert not Comment.objects.exists()


def test_oversized_mail_refused(fran, settings):
    settings.INBOUND_EMAIL_MAX_BYTES = 200
    assert ingest(message("new_latin1_qp.eml") + b"x" * 300).code == 65
    assert not Ticket.objects.exists()


def test_attachment_outside_the_rules_refuses_the_mail(fran, ticket):
    raw = message("reply_outlook_es_attachment.eml", ticket).replace(b'"tpv.log"', b'"tpv.exe"')
    outcome = ingest(raw)
    assert outcome.code == 65 and ".exe" in outcome.reason
    assert not Comment.objects.exists() and not Attachment.objects.exists()


# --- the MTA pipe: manage.py ingest_email as a subprocess -------------------------------


class SharedDatabase:
    """The test database as another process sees it: PostgreSQL's test database as is; SQLite's
    in-memory test database copied to a file before the command and back after it."""

    def __init__(self, tmp_path: Path) -> None:
        settings_dict = connection.settings_dict
        self.sqlite = connection.vendor == "sqlite"
        self.file = tmp_path / "pipe.sqlite3"
        if self.sqlite:
            self.url = f"sqlite:///{self.file}"
        else:
            from urllib.parse import quote

            user, host, port = settings_dict["USER"], settings_dict["HOST"], settings_dict["PORT"] or 5432
            password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict.get("PASSWORD") else ""
            self.url = f"postgres://{quote(user, safe='')}{password}@{host}:{port}/{settings_dict['NAME']}"

    def run(self, raw: bytes, **env: str) -> subprocess.CompletedProcess:
        if self.sqlite:
            connection.ensure_connection()
            with sqlite3.connect(self.file) as target:
                connection.connection.backup(target)
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "DEBUG": "true",
            "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "MEDIA_ROOT": str(self.file.parent / "media"),
            **env,
        }
        done = subprocess.run(
            [sys.executable, "manage.py", "ingest_email"],
            input=raw,
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
        )
        if self.sqlite:
            with sqlite3.connect(self.file) as source:
                source.backup(connection.connection)
        return done


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pipe_exit_codes_and_storage(tmp_path, centro):
    from accounts.services import save_user

    fran = save_user(username="fran_pipe", role="franchisee", franchise=centro, password="Xx-12345-pass")[0]
    fran.email = "fran@centro.example"
    fran.save(update_fields=["email"])
    ticket = services.create_ticket(actor=fran, subject="Impresora", description="No imprime")
    shared = SharedDatabase(tmp_path)

    done = shared.run(message("reply_gmail_es.eml", ticket, fran))
    assert done.returncode == 0, done.stderr
    assert Comment.objects.get(ticket=ticket).body.startswith("Ya funciona")

    done = shared.run(message("unknown_sender.eml"))
    assert done.returncode == 67 and b"unknown" in done.stderr
    done = shared.run(message("garbage.eml"))
    assert done.returncode == 65 and b"unparsable" in done.stderr
    done = shared.run(message("new_latin1_qp.eml"))
    assert done.returncode == 0, done.stderr
    assert Ticket.objects.filter(source="email").count() == 1
    done = shared.run(message("auto_reply.eml", ticket, fran))
    assert done.returncode == 0 and b"ignored" in done.stderr
    done = shared.run(message("new_html_only.eml") + b"x" * 5000, INBOUND_EMAIL_MAX_BYTES="2000")
    assert done.returncode == 65 and b"too large" in done.stderr
    assert Comment.objects.count() == 1 and InboundMessage.objects.count() == 2
    assert Ticket.objects.get(pk=ticket.pk).status in (Status.NEW, Status.OPEN)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_deliveries_of_one_message_store_it_once(centro):
    """Two MTA deliveries of the same message at once (PostgreSQL: real row locks)."""
    import threading

    from accounts.services import save_user
    from tests.conftest import require_env

    require_env("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    fran = save_user(username="fran_twice", role="franchisee", franchise=centro, password="Xx-12345-pass")[0]
    fran.email = "fran@centro.example"
    fran.save(update_fields=["email"])
    ticket = services.create_ticket(actor=fran, subject="Impresora", description="No imprime")
    raw = message("reply_gmail_es.eml", ticket, fran)
    barrier, codes = threading.Barrier(2), []

    def deliver() -> None:
        from django.db import connections

        try:
            barrier.wait(timeout=30)
            codes.append(ingest(raw).code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert codes == [0, 0]
    assert Comment.objects.filter(ticket=ticket).count() == 1 and InboundMessage.objects.count() == 1
