"""`Authorization: Token <key>` with django-rest-knox: the key is hashed and looked up by digest."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from knox.auth import TokenAuthentication

from api.models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)  # write last_used_at at most once a minute per token


class ApiTokenAuthentication(TokenAuthentication):
    """Knox's token check, plus the token's "last used" time shown on the tokens panel."""

    def validate_user(self, auth_token: ApiToken):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token
