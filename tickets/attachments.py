"""Upload checks for ticket attachments: size, extension and real content must agree."""

from __future__ import annotations

import codecs
import uuid
from pathlib import PurePath

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

MAX_FILES = 5
TEXT = "text/plain"
ZIP = "application/zip"

#: extension → content types `filetype` may report for it (TEXT: no magic number, checked as UTF-8 text)
ALLOWED: dict[str, frozenset[str]] = {
    "pdf": frozenset({"application/pdf"}),
    "png": frozenset({"image/png"}),
    "jpg": frozenset({"image/jpeg"}),
    "jpeg": frozenset({"image/jpeg"}),
    "gif": frozenset({"image/gif"}),
    "webp": frozenset({"image/webp"}),
    "txt": frozenset({TEXT}),
    "log": frozenset({TEXT}),
    "csv": frozenset({TEXT}),
    "zip": frozenset({ZIP}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP}),
}
#: what the download view announces for each extension (always sent as an attachment)
SERVE_AS = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain; charset=utf-8",
    "log": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "zip": ZIP,
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def extension_of(name: str) -> str:
    return PurePath(name or "").suffix.lower().lstrip(".")


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detected_type(upload: UploadedFile) -> str | None:
    """Content type from the file's first bytes; TEXT for plain UTF-8 text; None if unknown."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    return TEXT if _looks_like_text(head) else None


def validate_upload(upload: UploadedFile) -> None:
    """Raise ValidationError unless the file is small enough and its content matches an allowed extension."""
    name = upload.name or ""
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            _("«%(name)s» ocupa más de %(max)s."),
            params={"name": name, "max": filesizeformat(settings.ATTACHMENT_MAX_BYTES)},
            code="too_big",
        )
    if upload.size == 0:
        raise ValidationError(_("«%(name)s» está vacío."), params={"name": name}, code="empty")
    ext = extension_of(name)
    if ext not in ALLOWED:
        raise ValidationError(
            _("No se admiten ficheros «.%(ext)s». Tipos permitidos: %(allowed)s."),
            params={"ext": ext or "?", "allowed": ", ".join(sorted(ALLOWED))},
            code="extension",
        )
    if detected_type(upload) not in ALLOWED[ext]:
        raise ValidationError(
            _("El contenido de «%(name)s» no corresponde a un fichero «.%(ext)s»."),
            params={"name": name, "ext": ext},
            code="content",
        )


def validate_uploads(uploads: list[UploadedFile]) -> None:
    if len(uploads) > MAX_FILES:
        raise ValidationError(_("Como máximo %(n)d ficheros por envío."), params={"n": MAX_FILES}, code="too_many")
    errors = []
    for upload in uploads:
        try:
            validate_upload(upload)
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)


def safe_display_name(name: str) -> str:
    """A file name safe to show and to send in Content-Disposition."""
    base = PurePath((name or "").replace("\\", "/")).name
    try:
        clean = get_valid_filename(base)
    except SuspiciousFileOperation:
        clean = ""
    if not clean or clean.startswith("."):
        clean = f"adjunto.{extension_of(base) or 'bin'}"
    stem, dot, ext = clean.rpartition(".")
    if dot and len(clean) > 150:
        clean = f"{stem[: 149 - len(ext)]}.{ext}"
    return clean[:150]


def storage_name(name: str) -> str:
    """Random stored name keeping only the (already validated) extension."""
    return f"{uuid.uuid4().hex}.{extension_of(name)}"
