"""`manage.py ingest_email < message.eml` — the MTA "pipe to command" entry (sysexits codes)."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from mail.services import ingest


class Command(BaseCommand):
    help = "Read one RFC 5322 message on standard input; exit 0/65/67/75 (docs/EMAIL.md)."

    def handle(self, *args, **options) -> None:
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        raw = stream.read(settings.INBOUND_EMAIL_MAX_BYTES + 1)
        while stream.read(1 << 16):  # drain the rest so the MTA never sees a broken pipe
            pass
        outcome = ingest(raw if isinstance(raw, bytes) else raw.encode())
        sys.stderr.write(f"ingest_email: {outcome.reason}\n")
        sys.stderr.flush()
        sys.exit(outcome.code)
