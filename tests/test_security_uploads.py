"""Uploaded files are never served as HTML (or anything a browser would run in the portal's origin)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.tickets_factories import PNG
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _post_ticket(client: Client, upload: SimpleUploadedFile):
    data = {"subject": "Adjunto", "description": "Mira el fichero", "priority": "normal", "files": [upload]}
    return client.post("/tickets/new/", data)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("pagina.html", HTML, "text/html"),
        ("pagina.htm", HTML, "text/html"),
        ("dibujo.svg", SVG, "image/svg+xml"),
        ("script.js", b"alert(1)", "application/javascript"),
        ("disfrazado.png", HTML, "image/png"),  # HTML with an image's name: the content decides
        ("disfrazado.txt", HTML, "text/plain"),  # markup is not plain text
    ],
)
def test_html_like_uploads_are_refused_and_nothing_is_stored(franchisee_client, name, content, content_type):
    response = _post_ticket(franchisee_client, SimpleUploadedFile(name, content, content_type=content_type))
    if response.status_code == 302:  # accepted: then it must be served as an inert download
        attachment = Attachment.objects.get()
        served = franchisee_client.get(f"/tickets/{attachment.ticket_id}/attachments/{attachment.pk}/")
        assert "html" not in served["Content-Type"] and "svg" not in served["Content-Type"], name
        assert served["Content-Disposition"].startswith("attachment"), name
        return
    assert response.status_code == 400, name
    assert Ticket.objects.count() == 0 and Attachment.objects.count() == 0


def test_an_accepted_file_is_a_sandboxed_download(franchisee_client):
    response = _post_ticket(franchisee_client, SimpleUploadedFile("captura.png", PNG, content_type="text/html"))
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    served = franchisee_client.get(f"/tickets/{attachment.ticket_id}/attachments/{attachment.pk}/")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"  # what the bytes are, not what the client claimed
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"] and "default-src 'none'" in served["Content-Security-Policy"]
    assert b"".join(served.streaming_content) == PNG
    assert not attachment.file.name.endswith(("captura.png",))  # stored under a random name


def test_uploads_are_not_reachable_as_static_or_media_files(franchisee_client):
    response = _post_ticket(franchisee_client, SimpleUploadedFile("captura.png", PNG, content_type="image/png"))
    assert response.status_code == 302
    stored = Attachment.objects.get().file.name
    for prefix in ("/media/", "/static/", "/"):
        assert franchisee_client.get(prefix + stored).status_code == 404, prefix
