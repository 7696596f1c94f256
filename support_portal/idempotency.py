"""One-time submission tokens: a double submit or a retried POST creates one object, not two.

A form carries a hidden `submission_token` (a fresh random value per rendered form). The first
POST with a token claims it in the shared cache; when the action succeeds the token remembers
the URL of what it created, and any replay of that token (same user, same form) is redirected
there instead of creating a second one. A failed attempt (form errors, a rate limit) releases
the token so the corrected form can be sent again. A POST without a token is processed as
before (DESIGN.md's form contract: clients need not send it).

    submission = Submission(request, "ticket.create")
    if (url := submission.replayed()) is not None:
        return redirect(url)
    ... create ...; submission.done(obj.get_absolute_url())   # or submission.release()
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from support_portal.throttle import CACHE_ERRORS

log = logging.getLogger(__name__)

FIELD = "submission_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
PENDING = "pending"
PENDING_SECONDS = 30  # a request that died mid-way frees its token after this
WAIT_SECONDS = 10  # a concurrent replay waits this long for the first request to finish


def new_token() -> str:
    return secrets.token_urlsafe(18)


def token_for_form(request: HttpRequest) -> str:
    """The token a rendered form carries: the posted one when re-rendering after an error."""
    posted = request.POST.get(FIELD, "") if request.method == "POST" else ""
    return posted if _TOKEN.fullmatch(posted) else new_token()


class Submission:
    def __init__(self, request: HttpRequest, scope: str) -> None:
        token = request.POST.get(FIELD, "")
        user_id = getattr(request.user, "pk", None)
        valid = request.method == "POST" and user_id is not None and _TOKEN.fullmatch(token)
        self.key = f"idem:{scope}:{user_id}:{token}" if valid else None
        self.claimed = False

    def replayed(self) -> str | None:
        """Claim the token; the URL of the first submission's result when this is a replay."""
        if self.key is None:
            return None
        try:
            return self._claim()
        except CACHE_ERRORS:  # a cache outage must not refuse the form: process it once, unguarded
            log.warning("submission token not checked: the cache is unavailable", exc_info=True)
            return None

    def _claim(self) -> str | None:
        if cache.add(self.key, PENDING, timeout=PENDING_SECONDS):
            self.claimed = True
            return None
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            value = cache.get(self.key)
            if value is None and cache.add(self.key, PENDING, timeout=PENDING_SECONDS):
                self.claimed = True  # the first attempt failed or expired: this one goes ahead
                return None
            if value not in (None, PENDING):
                return value
            if time.monotonic() > deadline:
                raise InFlight
            time.sleep(0.1)

    def done(self, url: str) -> None:
        if self.claimed:
            try:
                cache.set(self.key, url, timeout=getattr(settings, "SUBMISSION_TOKEN_TTL", 86400))
            except CACHE_ERRORS:
                log.warning("submission token not stored: the cache is unavailable", exc_info=True)

    def release(self) -> None:
        if self.claimed:
            self.claimed = False
            try:
                cache.delete(self.key)
            except CACHE_ERRORS:
                log.warning("submission token not released: the cache is unavailable", exc_info=True)


class InFlight(Exception):
    """The first submission with this token is still being processed."""
