"""Markdown -> sanitized HTML (nh3 allowlist), plain text for the search index, diffs."""

from __future__ import annotations

import difflib
import html
import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "kbd", "mark",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}
_ID_PREFIX = "kb-"


def _heading_id(value: str, separator: str) -> str:
    return _ID_PREFIX + (slugify(value) or "seccion")


def render_markdown(source: str) -> SafeString:
    """Article Markdown as safe HTML: tables, fenced code, heading anchors; no scripts."""
    raw = markdown.markdown(
        source or "",
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        extension_configs={"toc": {"slugify": _heading_id, "permalink": False}},
        output_format="html",
    )
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(clean)  # noqa: S308 - sanitized by nh3 just above


_TAG_RE = re.compile(r"<[^>]+>")


def markdown_to_text(source: str) -> str:
    """Plain text of an article body (for the index and snippets)."""
    rendered = markdown.markdown(source or "", extensions=["tables", "fenced_code"])
    text = html.unescape(_TAG_RE.sub(" ", rendered))
    return " ".join(text.split())


def headings(html_text: str) -> list[tuple[str, str]]:
    """(anchor id, text) of the h2/h3 headings of rendered HTML: the article's table of contents."""
    pattern = re.compile(r'<h([23]) id="([^"]+)">(.*?)</h\1>', re.S)
    return [(anchor, html.unescape(_TAG_RE.sub("", inner))) for _, anchor, inner in pattern.findall(html_text)]


def text_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Line diff as (kind, line) pairs, kind in {"same", "add", "del"}: rendered escaped."""
    out: list[tuple[str, str]] = []
    for line in difflib.ndiff((old or "").splitlines(), (new or "").splitlines()):
        code, text = line[:2], line[2:]
        if code == "+ ":
            out.append(("add", text))
        elif code == "- ":
            out.append(("del", text))
        elif code == "  ":
            out.append(("same", text))
    return out
