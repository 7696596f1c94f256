"""RFC 5322 bytes → what the portal needs: sender, recipients, loop signs, text and attachments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from django.core.files.uploadedfile import SimpleUploadedFile
from markdownify import markdownify

#: HTML kept before conversion to Markdown text (scripts, styles and everything else dropped).
HTML_TAGS = {"a", "p", "br", "div", "span", "blockquote", "ul", "ol", "li", "b", "strong", "i", "em", "pre", "code"}
HTML_TAGS |= {"table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "hr"}
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


class Unparsable(Exception):
    """Not an e-mail the portal can read (no headers, no sender address)."""


@dataclass
class ParsedMail:
    key: str  # sha256 of the Message-ID (or of the bytes when there is none)
    message_id: str
    sender: str  # From address, lower-cased
    sender_name: str
    recipients: list[str]
    subject: str
    text: str
    html_only: bool
    attachments: list[SimpleUploadedFile] = field(default_factory=list)
    loop_reason: str = ""  # why this looks automatic (auto-reply, bounce…); empty for a person's mail


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "")).strip()
    except (ValueError, TypeError, IndexError, AttributeError):  # a header the parser cannot read
        return ""


def _decoded(part: MIMEPart) -> str:
    """A text part's content in its declared charset (unknown charsets: UTF-8 with replacements)."""
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError):
        return (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """Sanitise (nh3 drops scripts, styles, handlers) then convert to Markdown-flavoured text;
    blockquotes become `>` lines, which the reply parsers recognise as quoted."""
    clean = nh3.clean(html, tags=HTML_TAGS, attributes={"a": {"href"}}, link_rel=None)
    return markdownify(clean, heading_style="ATX", bullets="-").strip()


def loop_reason(message: EmailMessage, sender: str) -> str:
    """Why a message is automatic (RFC 3834 and the common vendor headers), or ""."""
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(message, name):
            return f"{name} header"
    suppress = _header(message, "X-Auto-Response-Suppress").lower()
    if any(word in suppress for word in ("all", "oof", "autoreply")):
        return f"X-Auto-Response-Suppress: {suppress}"
    precedence = _header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if message.get("Return-Path") is not None and parseaddr(_header(message, "Return-Path"))[1] == "":
        return "empty Return-Path (a bounce)"
    if sender.partition("@")[0] in BOUNCE_SENDERS:
        return f"bounce from {sender}"
    if message.get_content_type() == "multipart/report":
        return "delivery status report"
    return ""


def _attachments(message: EmailMessage) -> list[SimpleUploadedFile]:
    files = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if not filename or disposition == "inline" or (disposition is None and part.get("Content-ID")):
            continue  # body parts and inline images of an HTML body (signature logos)
        data = part.get_payload(decode=True) or b""
        files.append(SimpleUploadedFile(filename, data, part.get_content_type()))
    return files


def _body(message: EmailMessage) -> tuple[str, bool]:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None and plain.get_content_disposition() != "attachment":
        return _decoded(plain), False
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_decoded(html)), True
    return "", False


def parse(raw: bytes) -> ParsedMail:
    if not raw.strip():
        raise Unparsable("empty message")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise Unparsable("no headers")
    from_value = _header(message, "From")
    name, sender = parseaddr(from_value)
    if "@" not in sender:
        raise Unparsable("no sender address in From")
    try:
        Address(addr_spec=sender)
    except (ValueError, IndexError) as exc:
        raise Unparsable(f"bad sender address {sender!r}") from exc
    message_id = _header(message, "Message-ID")
    key_source = message_id.strip().lower().encode() if message_id else raw
    recipients = [address for _name, address in getaddresses(_all(message, RECIPIENT_HEADERS)) if address]
    text, html_only = _body(message)
    return ParsedMail(
        key=hashlib.sha256(key_source).hexdigest(),
        message_id=message_id[:255],
        sender=sender.lower(),
        sender_name=name,
        recipients=recipients,
        subject=" ".join(_header(message, "Subject").split()),
        text=text.replace("\r\n", "\n").replace("\x00", ""),
        html_only=html_only,
        attachments=_attachments(message),
        loop_reason=loop_reason(message, sender.lower()),
    )


def _all(message: EmailMessage, names: tuple[str, ...]) -> list[str]:
    values = []
    for name in names:
        for value in message.get_all(name, failobj=[]):
            values.append(str(value))
    return values
