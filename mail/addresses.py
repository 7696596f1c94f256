"""Signed per-recipient reply addresses and thread Message-IDs of ticket e-mails.

`soporte+<token>@domain` (local part and domain from SUPPORT_EMAIL). The token names the
ticket, the recipient and the last day it is valid, and ends with an HMAC of those three
(django.utils.crypto.salted_hmac over SECRET_KEY): it cannot be guessed or edited. Everything
is lower-case, as some mail servers lower-case the local part.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "mail.addresses.reply"
EPOCH = dt.date(2000, 1, 1)


class BadToken(Exception):
    """The reply address is forged, malformed or expired (the message says which)."""


@dataclass(frozen=True)
class ReplyToken:
    ticket_id: int
    user_id: int
    expires: dt.date


def support_address() -> tuple[str, str]:
    """(local part, domain) of SUPPORT_EMAIL, lower-cased."""
    address = parseaddr(settings.SUPPORT_EMAIL)[1].lower()
    local, _, domain = address.rpartition("@")
    return local, domain


def _signature(payload: str) -> str:
    digest = salted_hmac(SALT, payload, algorithm="sha256").digest()
    return base64.b32encode(digest[:15]).decode().lower()  # 120 bits, 24 characters


def make_token(ticket_id: int, user_id: int, today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    expires = (today - EPOCH).days + settings.INBOUND_EMAIL_REPLY_DAYS
    payload = f"{ticket_id:x}-{user_id:x}-{expires:x}"
    return f"{payload}-{_signature(payload)}"


def reply_address(ticket_id: int, user_id: int) -> str:
    local, domain = support_address()
    return f"{local}+{make_token(ticket_id, user_id)}@{domain}"


def read_token(token: str, today: dt.date | None = None) -> ReplyToken:
    """Check a token's signature and expiry; BadToken otherwise."""
    parts = token.lower().split("-")
    if len(parts) != 4:
        raise BadToken("malformed reply token")
    payload = "-".join(parts[:3])
    if not constant_time_compare(parts[3], _signature(payload)):
        raise BadToken("forged reply token (bad signature)")
    ticket_id, user_id, expires = (int(part, 16) for part in parts[:3])
    expires_on = EPOCH + dt.timedelta(days=expires)
    if (today or timezone.localdate()) > expires_on:
        raise BadToken(f"expired reply token (valid until {expires_on.isoformat()})")
    return ReplyToken(ticket_id, user_id, expires_on)


def classify_recipient(address: str) -> str | None:
    """ "support" for SUPPORT_EMAIL itself, the token for `local+token@domain`, None otherwise."""
    address = parseaddr(address)[1].lower()
    local, _, domain = address.rpartition("@")
    support_local, support_domain = support_address()
    if domain != support_domain:
        return None
    if local == support_local:
        return "support"
    base, plus, token = local.partition("+")
    if plus and base == support_local and token:
        return token
    return None


def thread_id(ticket_id: int) -> str:
    """The root Message-ID every e-mail about one ticket refers to (In-Reply-To / References)."""
    return f"<ticket-{ticket_id}@{support_address()[1]}>"
