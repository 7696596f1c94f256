"""Reads of webhook endpoints and their delivery log (supervisors only)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from accounts.access import is_supervisor
from accounts.models import User
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

LOG_SIZE = 50


def endpoints(user: User) -> QuerySet[WebhookEndpoint]:
    if not is_supervisor(user):
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.select_related("created_by")


def endpoint_for(user: User, pk: int) -> WebhookEndpoint:
    endpoint = endpoints(user).filter(pk=pk).first()
    if endpoint is None:
        raise Http404
    return endpoint


def delivery_log(endpoint: WebhookEndpoint, limit: int = LOG_SIZE) -> list[WebhookDelivery]:
    attempts = WebhookAttempt.objects.order_by("number")
    return list(
        endpoint.deliveries.order_by("-created_at", "-id").prefetch_related(Prefetch("attempt_log", queryset=attempts))[
            :limit
        ]
    )
