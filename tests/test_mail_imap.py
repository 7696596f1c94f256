"""The IMAP poller against a real Dovecot started by the test: messages delivered by IMAP APPEND,
the Celery beat task ingests them once, flags them, and a second poll stores nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest
from imapclient import IMAPClient

from mail import imap
from mail.addresses import reply_address
from mail.models import InboundMessage
from mail.tasks import poll_imap
from tests import dovecot
from tests.conftest import IN_CI
from tickets import services
from tickets.models import Comment, Ticket

DATA = Path(__file__).parent / "data" / "email"

pytestmark = pytest.mark.slow


@pytest.fixture
def imap_server(tmp_path):
    if not dovecot.available():
        if IN_CI:
            pytest.fail("dovecot must be installed in CI (Debian package dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    with dovecot.dovecot(tmp_path) as server:
        yield server


def _client(server) -> IMAPClient:
    return server.client()


def test_poller_ingests_flags_and_is_idempotent(imap_server, franchisee, settings):
    franchisee.email = "fran@centro.example"
    franchisee.save(update_fields=["email"])
    ticket = services.create_ticket(actor=franchisee, subject="Impresora", description="No imprime")
    reply = (DATA / "reply_gmail_es.eml").read_bytes()
    reply = reply.replace(b"TOKEN_ADDR", reply_address(ticket.pk, franchisee.pk).encode())
    with _client(imap_server) as client:
        client.append("INBOX", reply)
        client.append("INBOX", (DATA / "new_latin1_qp.eml").read_bytes())
        client.append("INBOX", (DATA / "unknown_sender.eml").read_bytes())
        client.append("INBOX", reply)  # the same Message-ID delivered twice
        client.append("INBOX", (DATA / "auto_reply.eml").read_bytes())

    settings.IMAP_URL = imap_server.url
    counts = poll_imap.delay().get()
    assert counts == {"accepted": 3, "ignored": 1, "refused": 1, "retry": 0}
    assert Comment.objects.get(ticket=ticket).body == "Ya funciona, gracias. Lo he reiniciado dos veces."
    assert Ticket.objects.filter(source="email", requester=franchisee).count() == 1
    assert InboundMessage.objects.filter(channel="imap").count() == 2

    with _client(imap_server) as client:
        client.select_folder("INBOX")
        flags = client.get_flags(client.search(["ALL"]))
        assert all(b"\\Seen" in f for f in flags.values())
        kept = [
            next((k for k in (imap.ACCEPTED_FLAG, imap.IGNORED_FLAG, imap.REFUSED_FLAG) if k in f), None)
            for f in flags.values()
        ]
        assert sorted(kept) == sorted([imap.ACCEPTED_FLAG] * 3 + [imap.IGNORED_FLAG, imap.REFUSED_FLAG])
        assert client.search(["UNSEEN"]) == []

    assert poll_imap.delay().get() == {"accepted": 0, "ignored": 0, "refused": 0, "retry": 0}
    assert Comment.objects.count() == 1 and Ticket.objects.count() == 2


def test_poller_over_imaps_verifies_the_certificate(tmp_path, franchisee, settings):
    if not dovecot.available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    franchisee.email = "fran@centro.example"
    franchisee.save(update_fields=["email"])
    with dovecot.dovecot(tmp_path, tls=True) as server:
        with server.client() as client:
            client.append("INBOX", (DATA / "new_latin1_qp.eml").read_bytes())
        settings.IMAP_URL = server.url
        assert server.url.startswith("imaps://")
        assert poll_imap.delay().get() == {"error": 1}  # system CAs do not trust the test certificate
        assert not Ticket.objects.exists()
        settings.IMAP_CA_FILE = server.cafile
        assert poll_imap.delay().get() == {"accepted": 1, "ignored": 0, "refused": 0, "retry": 0}
    assert Ticket.objects.get().source == "email"


def test_url_format():
    config = imap.parse_url("imaps://soporte%40franquicias.example:p%2Fss@mail.example/Soporte")
    assert (config.host, config.port, config.tls) == ("mail.example", 993, True)
    assert (config.username, config.password, config.folder) == ("soporte@franquicias.example", "p/ss", "Soporte")
    with pytest.raises(ValueError):
        imap.parse_url("pop3://x@y/INBOX")


def test_poll_without_imap_url_does_nothing(settings, db):
    settings.IMAP_URL = ""
    assert poll_imap.delay().get() == {}


def test_unreachable_server_is_logged_and_retried_next_poll(settings, db):
    from tests.servers import free_port

    settings.IMAP_URL = f"imap://soporte:x@127.0.0.1:{free_port()}/INBOX"  # nothing listens there
    assert poll_imap.delay().get() == {"error": 1}
