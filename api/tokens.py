"""Create, list and revoke personal API tokens (the one place; the panel, the page and the command use it)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from api.models import TOKEN_NAME_MAX, ApiToken


def user_tokens(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created")


def create_token(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns (token, key). The key exists only in this return value."""
    name = (name or "").strip()[:TOKEN_NAME_MAX] or _("Token sin nombre")
    if not user.is_active:
        raise ValidationError(_("El usuario no está activo."))
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # serialise the limit check
        if user_tokens(user).count() >= settings.API_TOKENS_PER_USER:
            raise ValidationError(
                _("Como máximo %(n)d tokens por usuario: revoca alguno antes.") % {"n": settings.API_TOKENS_PER_USER}
            )
        token, key = ApiToken.objects.create(user=user, expiry=None, name=name)
    return token, key


def revoke_token(*, user: User, token_key: str) -> bool:
    """Delete the user's token with this public prefix; a key of someone else changes nothing."""
    deleted, _rows = ApiToken.objects.filter(user=user, token_key=token_key).delete()
    return bool(deleted)
