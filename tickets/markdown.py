"""User-written Markdown to safe HTML (Markdown, then the nh3 sanitizer)."""

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe

TAGS = nh3.ALLOWED_TAGS | {"table", "thead", "tbody", "tr", "th", "td", "pre", "code", "hr", "p", "br"}


def render_markdown(text: str, *, line_breaks: bool = False) -> SafeString:
    """`line_breaks`: every newline is a line break (a chat transcript: one line per message)."""
    extensions = ["tables", "fenced_code", *(["nl2br"] if line_breaks else [])]
    html = md.markdown(text or "", extensions=extensions)
    return mark_safe(nh3.clean(html, tags=TAGS, link_rel="noopener noreferrer nofollow"))  # noqa: S308
