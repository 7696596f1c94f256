"""Where a form's `next` field may send the user: a path on this site, or the page's fallback."""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

_LOCAL_PATH = re.compile(r"/[^\x00-\x1f\x7f]*")


def safe_next(request: HttpRequest, fallback: str) -> str:
    """`next` from the POST when it is a local path (`/…`) of this host, else `fallback` resolved.

    Anything else — another site, a scheme, a bare word such as `hola` (which `redirect()` would
    try to reverse as a URL name and fail with a 500) — falls back. `fallback` is a path or a
    URL name, resolved with `resolve_url`.
    """
    target = request.POST.get("next", "")
    if _LOCAL_PATH.fullmatch(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(fallback)
