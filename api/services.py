"""Writes of webhook endpoints (supervisors only)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.access import is_supervisor
from accounts.models import User
from api.models import WebhookEndpoint, WebhookEvent
from api.webhooks import check_url


def _require_supervisor(actor: User) -> None:
    if not is_supervisor(actor):
        raise ValidationError(_("Solo un supervisor gestiona los webhooks."))


def register_endpoint(*, actor: User, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh secret (shown once to the supervisor)."""
    _require_supervisor(actor)
    check_url(url)
    events = [e for e in WebhookEvent.values if e in set(events)]
    if not events:
        raise ValidationError({"events": _("Elige al menos un evento.")})
    return WebhookEndpoint.objects.create(url=url, events=events, description=description.strip(), created_by=actor)


def set_active(*, actor: User, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    _require_supervisor(actor)
    endpoint.active = active
    endpoint.save(update_fields=["active"])
    return endpoint


def delete_endpoint(*, actor: User, endpoint: WebhookEndpoint) -> None:
    _require_supervisor(actor)
    endpoint.delete()
