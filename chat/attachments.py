"""Files in chat messages: images and PDFs (screenshots of the TPV), with the ticket attachment
rules (size, extension and sniffed content must agree: tickets.attachments), a thumbnail for
images, one file per message. The message is stored through chat.services.post_message, so the
posting rights, the flood limit, the client_id retry rule and the notifications are the chat's."""

from __future__ import annotations

import io
import logging

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import User
from chat import selectors, services
from chat.models import Attachment, Conversation, Message
from tickets.attachments import SERVE_AS, extension_of, safe_display_name, storage_name, validate_upload

logger = logging.getLogger(__name__)

#: what a chat accepts: images and PDFs (a subset of the ticket types)
CHAT_TYPES = ("png", "jpg", "jpeg", "gif", "webp", "pdf")
THUMBNAIL_BOX = (480, 480)
MAX_PIXELS = 40_000_000  # larger images are refused (decompression bombs)


def validate_chat_upload(upload: UploadedFile) -> None:
    """The ticket rules (size, content sniffing), restricted to images and PDFs."""
    ext = extension_of(upload.name or "")
    if ext not in CHAT_TYPES:
        raise ValidationError(
            _("En el chat se admiten imágenes y PDF (%(allowed)s).") % {"allowed": ", ".join(CHAT_TYPES)},
            code="extension",
        )
    validate_upload(upload)


def thumbnail_of(upload: UploadedFile) -> ContentFile:
    """A JPEG thumbnail (at most THUMBNAIL_BOX) of an image; ValidationError if it does not decode."""
    upload.seek(0)
    try:
        with Image.open(upload) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ValidationError(_("La imagen es demasiado grande (más de 40 megapíxeles)."), code="too_big")
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image.seek(0)  # the first frame of an animation
            image = ImageOps.exif_transpose(image)
            image.thumbnail(THUMBNAIL_BOX)
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            out = io.BytesIO()
            image.save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValidationError(_("No se ha podido leer la imagen."), code="content") from error
    finally:
        upload.seek(0)
    return ContentFile(out.getvalue())


def _store(conversation: Conversation, author: User, upload: UploadedFile) -> Attachment:
    ext = extension_of(upload.name)
    attachment = Attachment(
        conversation=conversation,
        uploaded_by=author,
        original_name=safe_display_name(upload.name),
        content_type=SERVE_AS[ext],
        size=upload.size,
    )
    thumb = thumbnail_of(upload) if attachment.is_image else None
    upload.seek(0)
    attachment.file.save(storage_name(upload.name), upload, save=False)
    if thumb is not None:
        attachment.thumbnail.save(storage_name("thumb.jpg"), thumb, save=False)
    attachment.save()
    return attachment


def _discard_files(attachment: Attachment) -> None:
    for field in (attachment.file, attachment.thumbnail):
        if field:
            field.storage.delete(field.name)


def post_attachment(
    *, conversation_id: int, author: User, upload: UploadedFile, client_id: str, caption: str = ""
) -> tuple[Message, bool]:
    """Store a file and the message that carries it, then broadcast the message (its frame has
    `attachment`). Returns (message, created): a retry with the same client_id returns the
    original and stores nothing. Raises ValidationError (the file) or a chat.services.ChatError."""
    if isinstance(client_id, str) and client_id.strip():
        existing = selectors.find_by_client_id(conversation_id, author.pk, client_id.strip())
        if existing is not None:
            return existing, False
    conversation = selectors.posting_state(author, conversation_id)
    if conversation is None or not selectors.can_post(author, conversation):
        raise services.Forbidden(_("No puedes escribir en esta conversación."))
    validate_chat_upload(upload)
    caption = (caption or "").strip()
    attachment = None
    try:
        with transaction.atomic():
            attachment = _store(conversation, author, upload)
            message, created = services.post_message(
                conversation_id=conversation_id,
                author=author,
                body=caption or attachment.caption_placeholder,
                client_id=client_id,
                attachment=attachment,
            )
            if not created:  # a concurrent retry stored it first: keep only that one
                transaction.set_rollback(True)
    except BaseException:
        if attachment is not None:
            _discard_files(attachment)
        raise
    if not created:
        _discard_files(attachment)
    return message, created


def as_ticket_files(conversation: Conversation) -> list[File]:
    """The conversation's files, opened, named as sent: to carry into the ticket made from it."""
    files = []
    for attachment in Attachment.objects.filter(conversation=conversation, message__isnull=False).order_by("id"):
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            logger.warning("chat attachment %s has no file; not carried into the ticket", attachment.pk)
            continue
        files.append(File(handle, name=attachment.original_name))
    return files


def add_remaining_to_ticket(ticket, actor: User, conversation: Conversation, files: list[File]) -> None:
    """Files beyond what one ticket submission takes (tickets.attachments.MAX_FILES) follow as
    public comments of the same actor, MAX_FILES at a time, through tickets.services.add_comment."""
    from tickets.attachments import MAX_FILES
    from tickets.services import add_comment

    for start in range(0, len(files), MAX_FILES):
        add_comment(
            ticket=ticket,
            actor=actor,
            body=_("Más adjuntos del chat #%(id)s.") % {"id": conversation.pk},
            attachments=files[start : start + MAX_FILES],
        )
