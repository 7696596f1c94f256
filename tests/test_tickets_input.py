"""Bad input: empty or oversized fields, forbidden or oversized files → form errors, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.tickets_factories import PNG, make_ticket, png, text_file
from tickets import services
from tickets.attachments import safe_display_name
from tickets.models import Attachment, Comment, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": "", "description": "algo"}, "subject"),
        ({"subject": "   ", "description": "algo"}, "subject"),
        ({"subject": "x" * 201, "description": "algo"}, "subject"),
        ({"subject": "Asunto", "description": ""}, "description"),
        ({"subject": "Asunto", "description": "y" * 20_001}, "description"),
        ({"subject": "Asunto", "description": "algo", "priority": "máxima"}, "priority"),
        ({"subject": "Asunto", "description": "algo", "category": "999"}, "category"),
    ],
)
def test_bad_fields_are_form_errors(franchisee_client, data, field):
    response = franchisee_client.post("/tickets/new/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("virus.exe", b"MZ\x90\x00" + b"\x00" * 100), "No se admiten"),
        (SimpleUploadedFile("pagina.html", b"<html><script>alert(1)</script></html>"), "No se admiten"),
        (SimpleUploadedFile("foto.png", b"<html><script>alert(1)</script></html>"), "no corresponde"),
        (SimpleUploadedFile("doc.pdf", PNG), "no corresponde"),
        (SimpleUploadedFile("datos.txt", b"\x00\x01\x02binario"), "no corresponde"),
        (SimpleUploadedFile("vacio.txt", b""), "vac"),
    ],
)
def test_forbidden_files_are_refused_and_nothing_stored(franchisee_client, media, upload, message):
    response = franchisee_client.post(
        "/tickets/new/", {"subject": "Con fichero", "description": "ver adjunto", "files": [png(), upload]}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert _stored_files(media) == []


def test_oversized_file_is_refused(franchisee_client, media, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    big = SimpleUploadedFile("grande.txt", b"a" * 1001)
    response = franchisee_client.post("/tickets/new/", {"subject": "x", "description": "y", "files": [big]})
    assert response.status_code == 400 and "ocupa más de" in response.content.decode()
    assert not Ticket.objects.exists() and _stored_files(media) == []


def test_too_many_files(franchisee_client):
    files = [png(f"f{i}.png") for i in range(6)]
    response = franchisee_client.post("/tickets/new/", {"subject": "x", "description": "y", "files": files})
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_good_files_are_stored_with_safe_names(franchisee_client, media):
    response = franchisee_client.post(
        "/tickets/new/",
        {"subject": "x", "description": "y", "files": [png("../../etc/pass wd.png"), text_file("registro.log")]},
    )
    assert response.status_code == 302
    names = sorted(Attachment.objects.values_list("original_name", flat=True))
    assert names == ["pass_wd.png", "registro.log"]
    for attachment in Attachment.objects.all():
        stored = Path(attachment.file.path)
        assert media in stored.parents and "pass" not in stored.name
        assert not str(stored).startswith(str(Path(__file__).parent.parent / "static"))


def test_bad_comment_keeps_nothing(franchisee, franchisee_client, media):
    ticket = make_ticket(franchisee)
    response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": ""})
    assert response.status_code == 400
    response = franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "z" * 20_001})
    assert response.status_code == 400
    response = franchisee_client.post(
        f"/tickets/{ticket.pk}/comments/", {"body": "ok", "files": [SimpleUploadedFile("a.exe", b"MZ")]}
    )
    assert response.status_code == 400
    assert not Comment.objects.exists() and _stored_files(media) == []


def test_service_validates_too(franchisee):
    with pytest.raises(ValidationError):
        services.create_ticket(actor=franchisee, subject="", description="y")
    with pytest.raises(ValidationError):
        services.create_ticket(
            actor=franchisee, subject="x", description="y", attachments=[SimpleUploadedFile("a.exe", b"MZ")]
        )
    assert not Ticket.objects.exists()


def test_markdown_is_sanitized(franchisee, franchisee_client):
    ticket = make_ticket(franchisee, description="**negrita** <script>alert(1)</script> [x](javascript:alert(1))")
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<strong>negrita</strong>" in page
    assert "<script>alert(1)" not in page and "javascript:alert" not in page


@pytest.mark.parametrize(("raw", "clean"), [("a b.png", "a_b.png"), ("..", "adjunto.bin"), ("C:\\x\\y.txt", "y.txt")])
def test_safe_display_name(raw, clean):
    assert safe_display_name(raw) == clean


@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999", "-1", "0", "T-²", "%00", "' OR 1=1 --"])
def test_odd_search_and_page_values_never_fail(franchisee, franchisee_client, agent_client, value):
    make_ticket(franchisee)
    for client in (franchisee_client, agent_client):
        assert client.get("/tickets/", {"q": value, "page": value}).status_code == 200
    assert (
        agent_client.get("/agent/", {"q": value, "page": value, "category": value, "franchise": value}).status_code
        == 200
    )


def test_search_by_number(franchisee, franchisee_client):
    ticket = make_ticket(franchisee, subject="Buscado")
    make_ticket(franchisee, subject="Otro")
    page = franchisee_client.get("/tickets/", {"q": ticket.number}).content.decode()
    assert "Buscado" in page and "Otro" not in page


@pytest.mark.django_db
def test_nul_in_search_is_ignored_not_a_server_error(franchisee_client, agent_client):
    """PostgreSQL rejects NUL in text parameters; found by the search fuzz test."""
    assert franchisee_client.get("/tickets/", {"q": "impresora\x00"}).status_code == 200
    assert agent_client.get("/agent/", {"q": "\x00", "view": "open"}).status_code == 200
    assert franchisee_client.get("/kb/search/", {"q": "\x00", "category": "\x00"}).status_code == 200
