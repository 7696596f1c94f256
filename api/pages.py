"""HTML pages of the api app: personal tokens (everyone) and webhooks (supervisors). Thin."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import supervisor_required
from api import selectors, services, tokens
from api.forms import TokenForm, WebhookForm
from api.webhooks import send_test_event
from support_portal.redirects import safe_next


@require_GET
def tokens_page(request: HttpRequest) -> HttpResponse:
    return render(request, "api/tokens.html")


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create a token and show its key on this response only (never stored, never redirected with)."""
    form = TokenForm(request.POST)
    new_key = None
    if form.is_valid():
        try:
            _token, new_key = tokens.create_token(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("Nombre no válido."))
    response = render(request, "api/tokens.html", {"new_key": new_key}, status=201 if new_key else 400)
    add_never_cache_headers(response)
    return response


@require_POST
def token_revoke(request: HttpRequest, token_key: str) -> HttpResponse:
    if tokens.revoke_token(user=request.user, token_key=token_key):
        messages.success(request, _("Token revocado: ya no sirve para entrar en la API."))
    else:
        messages.error(request, _("Ese token no existe o ya estaba revocado."))
    return redirect(safe_next(request, "/api/tokens/"))


@supervisor_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.register_endpoint(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [("url", exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Webhook registrado. Guarda su secreto para verificar las firmas."))
            return redirect("api:webhook", pk=endpoint.pk)
    context = {"form": form, "endpoints": selectors.endpoints(request.user)}
    return render(request, "api/webhooks.html", context, status=400 if form.errors else 200)


@supervisor_required
@require_GET
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.endpoint_for(request.user, pk)
    response = render(
        request, "api/webhook_detail.html", {"endpoint": endpoint, "deliveries": selectors.delivery_log(endpoint)}
    )
    add_never_cache_headers(response)  # it shows the secret
    return response


@supervisor_required
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.endpoint_for(request.user, pk)
    send_test_event(endpoint, request.user)
    messages.success(request, _("Evento de prueba enviado: mira el registro de entregas."))
    return redirect("api:webhook", pk=endpoint.pk)


@supervisor_required
@require_POST
def webhook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.endpoint_for(request.user, pk)
    services.set_active(actor=request.user, endpoint=endpoint, active=not endpoint.active)
    messages.success(request, _("Webhook activado.") if endpoint.active else _("Webhook desactivado."))
    return redirect("api:webhook", pk=endpoint.pk)


@supervisor_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.endpoint_for(request.user, pk)
    services.delete_endpoint(actor=request.user, endpoint=endpoint)
    messages.success(request, _("Webhook eliminado."))
    return redirect("api:webhooks")
