"""`/healthz`: JSON status of the database, channel layer, search index and broker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    async_to_sync(layer.group_send)("healthz", {"type": "healthz.ping"})
    return type(layer).__name__


def check_search() -> str:
    from haystack import connections

    connection_ = connections["default"]
    if not connection_.get_unified_index().get_indexed_models():
        return "no indexes registered"
    backend = connection_.get_backend()
    backend.search("healthz", end_offset=1)
    return type(backend).__name__


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from support_portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return conn.transport_cls if isinstance(conn.transport_cls, str) else "broker"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "search": check_search,
    "broker": check_broker,
}


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    healthy = True
    for name, check in CHECKS.items():
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = {"ok": False, "detail": type(exc).__name__}
            healthy = False
    return healthy, results


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, results = run_checks()
    down = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ok" if healthy else "down", "down": down, "checks": results}
    return JsonResponse(body, status=200 if healthy else 503)
