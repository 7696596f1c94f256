"""Notification pages: list, mark read, the bell's catch-up JSON and preferences."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.forms import PreferencesForm
from support_portal.redirects import safe_next

PAGE_SIZE = 20


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _next_or(request: HttpRequest, fallback: str) -> str:
    return safe_next(request, fallback)


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(selectors.notifications_for(request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "unread_only": unread_only, "unread": selectors.unread_count(request.user)}
    return render(request, "notifications/list.html", context)


@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one of your notifications read; someone else's is a 404."""
    if not selectors.notifications_for(request.user).filter(pk=pk).exists():
        raise Http404
    services.mark_read(request.user, pk)
    if _wants_json(request):
        return JsonResponse({"unread": selectors.unread_count(request.user)})
    return redirect(_next_or(request, "notifications:list"))


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(request.user)
    if _wants_json(request):
        return JsonResponse({"unread": 0, "marked": count})
    messages.success(request, _("Todas las notificaciones están marcadas como leídas."))
    return redirect(_next_or(request, "notifications:list"))


@never_cache
@require_GET
def latest(request: HttpRequest) -> JsonResponse:
    """Catch-up for the bell: `{"unread": n, "results": [notification frames + "read"]}`."""
    try:
        limit = int(request.GET.get("limit", 10))
    except ValueError:
        limit = 10
    return JsonResponse(selectors.catch_up(request.user, limit))


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    rows = selectors.preferences_for(request.user)
    form = PreferencesForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        services.save_preferences(request.user, form.choices())
        messages.success(request, _("Preferencias guardadas."))
        return redirect(_next_or(request, reverse("notifications:preferences")))
    return render(request, "notifications/preferences.html", {"form": form, "rows": form.rows()})
