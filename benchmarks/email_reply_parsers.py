"""Compare the reply parsers on the real replies in tests/data/email: each library alone and the
chain mail/replies.py uses. `DEBUG=true .venv/bin/python benchmarks/email_reply_parsers.py`"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from email_reply_parser import EmailReplyParser  # noqa: E402
from mailparser_reply import EmailReplyParser as MailParserReply  # noqa: E402

from mail.parsing import parse  # noqa: E402
from mail.replies import reply_text  # noqa: E402

TOKEN = b"soporte+1-1-5000-aaaaaaaaaaaaaaaaaaaaaaaa@franquicias.example"


def main() -> None:
    multi = MailParserReply(languages=["es", "en"])
    print("| message | email-reply-parser | mail-parser-reply (es, en) | chain (mail/replies.py) |")
    print("|---|---|---|---|")
    for path in sorted((ROOT / "tests" / "data" / "email").glob("reply_*.eml")):
        text = parse(path.read_bytes().replace(b"TOKEN_ADDR", TOKEN)).text
        results = [
            EmailReplyParser.parse_reply(text) or "",
            (multi.read(text).replies[0].body if multi.read(text).replies else text),
            reply_text(text),
        ]
        cells = [f"{len(r.splitlines())} lines: {r.splitlines()[-1][:40] if r else ''!r}" for r in results]
        print(f"| {path.stem} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
