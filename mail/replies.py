"""The new text of a reply: our own marker, then two kept libraries (see docs/EMAIL.md).

1. Every ticket e-mail starts with REPLY_MARKER ("## Responde por encima de esta línea ##" or
   its translation): everything from the line that holds it on is the quoted notification.
2. `mail-parser-reply` (languages es + en) cuts Outlook-style header blocks ("De: … Enviado: …",
   "From: … Sent: …"), "Enviado desde mi iPhone" and sign-offs such as "Saludos," / "Regards,".
3. `email-reply-parser` cuts what is left of `>`-quoted text, "On … wrote:" and "-- " signatures.
4. The attribution line a client writes just above the quote ("El … escribió:") is dropped
   when it names our own address — it is the last paragraph and ends with ":".
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from email_reply_parser import EmailReplyParser as GithubStyleParser
from mailparser_reply import EmailReplyParser as MultiLanguageParser

from mail.addresses import support_address
from mail.outgoing import REPLY_MARKER

_multi_language = MultiLanguageParser(languages=["es", "en"])


def markers() -> set[str]:
    """REPLY_MARKER in every language of the portal."""
    found = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            found.add(str(REPLY_MARKER))
    return found


def cut_at_marker(text: str) -> str:
    lines = text.split("\n")
    known = markers()
    for index, line in enumerate(lines):
        if any(marker in line for marker in known):
            return "\n".join(lines[:index])
    return text


def _drop_attribution(text: str) -> str:
    """Drop a trailing "El lun, … <soporte+…@domain> escribió:" paragraph (up to 3 lines)."""
    paragraphs = text.rstrip().split("\n\n")
    last = paragraphs[-1].strip()
    domain = "@" + support_address()[1]
    if len(paragraphs) > 1 and last.endswith(":") and last.count("\n") < 3 and domain in last.lower():
        return "\n\n".join(paragraphs[:-1])
    return text


def reply_text(text: str) -> str:
    """What the sender wrote above the quoted message, without signature."""
    text = cut_at_marker(text.replace("\r\n", "\n"))
    parsed = _multi_language.read(text)
    text = parsed.replies[0].body if parsed.replies else text
    text = GithubStyleParser.parse_reply(text) or ""
    return _drop_attribution(text).strip()
