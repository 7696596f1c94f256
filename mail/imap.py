"""Poll the IMAP mailbox of IMAP_URL (imaps://user:password@host[:port]/FOLDER) through ingest()."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from imapclient import IMAPClient
from imapclient.imapclient import SEEN

from mail.models import InboundMessage
from mail.services import TEMPFAIL, ingest

logger = logging.getLogger("mail.imap")

ACCEPTED_FLAG = b"PortalAccepted"
REFUSED_FLAG = b"PortalRefused"
IGNORED_FLAG = b"PortalIgnored"


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str


def parse_url(url: str) -> ImapConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("IMAP_URL must look like imaps://user:password@host/INBOX")
    tls = parts.scheme == "imaps"
    return ImapConfig(
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


def poll(url: str, *, limit: int = 200) -> dict[str, int]:
    """Ingest the unseen messages; flag each \\Seen + PortalAccepted / PortalIgnored (mail loops) /
    PortalRefused (temporary failures stay unseen for the next poll). Idempotent by Message-ID."""
    config = parse_url(url)
    counts = {"accepted": 0, "ignored": 0, "refused": 0, "retry": 0}
    context = ssl.create_default_context(cafile=settings.IMAP_CA_FILE or None)
    with IMAPClient(config.host, port=config.port, ssl=config.tls, ssl_context=context, timeout=30) as client:
        if not config.tls and b"STARTTLS" in client.capabilities():
            client.starttls(context)
        elif not config.tls and config.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("imap:// without STARTTLS is allowed only on this machine; use imaps://")
        client.login(config.username, config.password)
        client.select_folder(config.folder)
        for uid in client.search(["UNSEEN"])[:limit]:
            raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if raw is None:
                continue
            outcome = ingest(raw, channel=InboundMessage.Channel.IMAP)
            if outcome.code == TEMPFAIL:
                counts["retry"] += 1
                continue
            result = "refused" if outcome.code else "ignored" if outcome.ignored else "accepted"
            flag = {"accepted": ACCEPTED_FLAG, "ignored": IGNORED_FLAG, "refused": REFUSED_FLAG}[result]
            client.add_flags([uid], [SEEN, flag])
            counts[result] += 1
    return counts
