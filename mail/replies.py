"""The new text of a reply: our own marker, then two kept libraries (see docs/EMAIL.md).

1. Every ticket e-mail starts with REPLY_MARKER ("## Responde por encima de esta línea ##" or
   its translation): everything from the line that holds it on is the quoted notification.
2. `mail-parser-reply` (languages es + en) cuts Outlook-style header blocks ("De: … Enviado: …",
   "From: … Sent: …"), "Enviado desde mi iPhone" and sign-offs such as "Saludos," / "Regards,".
3. `email-reply-parser` cuts what is left of `>`-quoted text, "On … wrote:" and "-- " signatures.
4. What a client writes just above the quote — an attribution ("El … escribió:") or a header
   block the parser missed ("De: … Enviado el: …") — is dropped when it names our own address.
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
    """Drop what a client wrote about our quoted e-mail when the libraries left it: a trailing
    paragraph of up to 4 lines naming our address that is an attribution ("El lun, … <soporte+…>
    escribió:") or a header block the parser did not know ("De: … <soporte@…>" / "Enviado el: …")."""
    paragraphs = text.rstrip().split("\n\n")
    last = paragraphs[-1].strip()
    label = last.split("\n", 1)[0].partition(":")
    header_like = bool(label[1]) and len(label[0]) <= 12 and label[0].replace("*", "").isalpha()
    names_us = "@" + support_address()[1] in last.lower()
    if len(paragraphs) > 1 and names_us and last.count("\n") < 4 and (last.endswith(":") or header_like):
        return "\n\n".join(paragraphs[:-1])
    return text


def reply_text(text: str) -> str:
    """What the sender wrote above the quoted message, without signature."""
    text = cut_at_marker(text.replace("\r\n", "\n"))
    parsed = _multi_language.read(text)
    text = parsed.replies[0].body if parsed.replies else text
    text = GithubStyleParser.parse_reply(text) or ""
    return _drop_attribution(text).strip()
