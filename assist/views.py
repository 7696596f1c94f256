"""JSON for the desk panels, fetched after the page has loaded (the pages stay fast)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from accounts.decorators import agent_required
from assist import selectors
from support_portal import throttle
from tickets.ids import parse_id

DEFAULT_RATE = "60/60"  # panel requests per user (settings.ASSIST_RATE)


def _limited(request: HttpRequest) -> JsonResponse | None:
    rate = throttle.Rate.parse(getattr(settings, "ASSIST_RATE", DEFAULT_RATE))
    key = f"assist:{request.user.pk}"
    if throttle.is_over(key, rate):
        response = JsonResponse({"results": [], "error": "rate_limited"}, status=429)
        response["Retry-After"] = str(throttle.retry_after(rate))
        return response
    throttle.record(key, rate)
    return None


def _json(data: dict) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def articles(request: HttpRequest) -> JsonResponse:
    """`?q=` a typed query, else `?conversation=<id>` or `?ticket=<id>`: the text of that
    conversation or ticket (404 when the user may not see it)."""
    if (refused := _limited(request)) is not None:
        return refused
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    if not query and (conversation_id := parse_id(request.GET.get("conversation"))):
        query = selectors.conversation_query(request.user, conversation_id)
    elif not query and (ticket_id := parse_id(request.GET.get("ticket"))):
        query = selectors.ticket_query(request.user, ticket_id)
    hints = selectors.related_articles(request.user, query) if query else []
    results = [{**hint.as_json(), "link": request.build_absolute_uri(hint.url)} for hint in hints]
    return _json({"query": query, "results": results})


@require_GET
@agent_required
def similar(request: HttpRequest, pk: int) -> JsonResponse:
    """Resolved tickets like ticket `pk`, its franchise's first, with how they were solved."""
    if (refused := _limited(request)) is not None:
        return refused
    return _json({"results": [item.as_json() for item in selectors.similar_tickets(request.user, pk)]})


@require_GET
def same_problem(request: HttpRequest) -> JsonResponse:
    """Open tickets of the franchisee's own franchise like the one being written."""
    if (refused := _limited(request)) is not None:
        return refused
    found = selectors.same_problem(request.user, request.GET.get("subject", ""), request.GET.get("description", ""))
    return _json({"results": [item.as_json() for item in found]})
