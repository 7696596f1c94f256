"""safe_link(): the one check for a stored URL that the portal renders as a link.

Only site-relative paths ("/tickets/4/") pass: no scheme (`javascript:`, `data:`, `https:`),
no host (`//evil.example`, `/\\evil.example`), no control characters. Everything else becomes
"" (rendered as plain text, no link). Used where notification links are stored (model
validator and `notify()`) and again wherever one is rendered (templates, the bell's frames,
e-mails), so a row written around the services still cannot link out.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 300


def safe_link(url: str | None) -> str:
    """`url` if it is a path of this site, else ""."""
    url = (url or "").strip()
    if not url.startswith("/") or url.startswith(("//", "/\\")) or len(url) > MAX_LENGTH:
        return ""
    if any(ord(char) < 32 or ord(char) == 127 or char == "\\" for char in url):
        return ""
    # Django's open-redirect check (the one behind `next=`): no scheme, no host.
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return ""
    return url


def validate_site_link(url: str) -> None:
    """Model/form validator: an empty link or a path of this site."""
    if url and not safe_link(url):
        raise ValidationError(_("El enlace debe ser una ruta de este sitio (por ejemplo /tickets/4/)."), code="link")
