"""Helpers for the ticket tests: build tickets through the real service."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from tickets import services
from tickets.models import Ticket

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def png(name: str = "captura.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def text_file(name: str = "log.txt", body: bytes = b"linea 1\nlinea 2\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="text/plain")


def make_ticket(actor, subject: str = "El datáfono no imprime", **kwargs) -> Ticket:
    kwargs.setdefault("description", "Desde esta mañana el datáfono no imprime tickets.")
    return services.create_ticket(actor=actor, subject=subject, **kwargs)


def buf(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
