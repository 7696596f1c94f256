"""Webhook delivery: who gets an event, the signature, the SSRF guard and one HTTP attempt."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.models import TEST_EVENT, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Portal-Signature"
USER_AGENT = "SupportPortal-Webhooks/1.0"
ERROR_MAX = 500


# --- who gets what -------------------------------------------------------------------


def dispatch(event: str, build: Callable[[], dict], endpoints: list[WebhookEndpoint] | None = None) -> list[int]:
    """Log one delivery per subscribed endpoint and queue it (called after commit). Returns delivery ids."""
    if endpoints is None:
        endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if e.wants(event)]
    if not endpoints:
        return []
    # Payloads are in the portal's language whoever caused the event (names, stored texts).
    with translation.override(settings.LANGUAGE_CODE):
        data = build()
    ids = []
    for endpoint in endpoints:
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload={})
        delivery.payload = {
            "id": str(delivery.uuid),
            "event": event,
            "created": delivery.created_at.isoformat(),
            "data": data,
        }
        delivery.save(update_fields=["payload"])
        ids.append(delivery.pk)
    from api.tasks import deliver_webhook

    for pk in ids:
        transaction.on_commit(lambda pk=pk: deliver_webhook.delay(pk), robust=True)
    return ids


def send_test_event(endpoint: WebhookEndpoint, actor) -> int:
    """The "send test event" button: a webhook.test delivery to this endpoint only."""
    data = {"message": "Test event from the support portal", "sent_by": actor.username if actor else None}
    return dispatch(TEST_EVENT, lambda: data, endpoints=[endpoint])[0]


# --- signature -----------------------------------------------------------------------


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body with the endpoint's secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (docs/API.md): recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header or "")


# --- SSRF guard ----------------------------------------------------------------------


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> None:
    """Refuse URLs a webhook may not call: not http(s), credentials in the URL, or a host that
    resolves to a loopback/private/link-local/reserved address outside WEBHOOK_ALLOWED_NETWORKS."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("La URL debe empezar por http:// o https:// e indicar un servidor."))
    if parts.username or parts.password:
        raise ValidationError(_("La URL no puede llevar usuario ni contraseña."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise ValidationError(_("No se puede resolver el servidor de la URL.")) from exc
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _is_public(address) and not any(address in network for network in allowed):
            raise ValidationError(
                _("La URL apunta a una dirección interna (%(a)s): no está permitida.") % {"a": address}
            )


# --- one attempt ---------------------------------------------------------------------


def backoff_seconds(attempt: int) -> int:
    """Wait before the next try after `attempt` failures: base × 2^(attempt−1) (30 s, 1, 2, 4, 8 min)."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)


def attempt_delivery(delivery: WebhookDelivery) -> bool:
    """POST the delivery once and log the attempt. True when the receiver answered 2xx."""
    endpoint = delivery.endpoint
    body = body_of(delivery.payload)
    number = delivery.attempts + 1
    code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        check_url(endpoint.url)  # again at send time: DNS may have changed since registration
        response = requests.post(
            endpoint.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: signature(endpoint.secret, body),
                "X-Portal-Event": delivery.event,
                "X-Portal-Delivery": str(delivery.uuid),
                "X-Portal-Attempt": str(number),
            },
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_redirects=False,
        )
        code = response.status_code
        response.close()
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except ValidationError as exc:
        error = " ".join(exc.messages)
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    ok = not error
    now = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery, number=number, response_code=code, error=error[:ERROR_MAX], duration_ms=duration
    )
    delivery.attempts = number
    delivery.response_code = code
    delivery.error = error[:ERROR_MAX]
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif number >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = WebhookDelivery.Status.RETRYING
        delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(number))
    delivery.save(update_fields=["attempts", "response_code", "error", "status", "delivered_at", "next_attempt_at"])
    if not ok:
        logger.warning("webhook delivery %s attempt %d to %s failed: %s", delivery.uuid, number, endpoint.url, error)
    return ok
