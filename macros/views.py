"""/agent/macros/: the agent's macros (list, create, edit, delete) and the picker's JSON search."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import is_supervisor
from accounts.decorators import agent_required
from chat import selectors as chat_selectors
from macros import rendering, selectors, services
from macros.forms import MacroForm
from macros.models import Macro
from tickets import selectors as ticket_selectors
from tickets.ids import parse_id


def _int(value: str | None) -> int | None:
    return parse_id(value)


@agent_required
@require_GET
def macro_list(request: HttpRequest) -> HttpResponse:
    macros = selectors.visible_macros(request.user)
    return render(
        request,
        "macros/list.html",
        {
            "personal": [m for m in macros if m.owner_id],
            "shared": [m for m in macros if not m.owner_id],
            "can_share": is_supervisor(request.user),
            "fields": rendering.FIELDS,
        },
    )


def _save(request: HttpRequest, form: MacroForm, macro: Macro | None) -> Macro | None:
    try:
        if macro is None:
            return services.create_macro(
                actor=request.user, shared=form.cleaned_data.get("shared", False), **form.values()
            )
        return services.update_macro(macro=macro, actor=request.user, **form.values())
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    except services.MacroError as exc:
        form.add_error(None, str(exc))
    return None


def _edit(request: HttpRequest, macro: Macro | None) -> HttpResponse:
    can_share = is_supervisor(request.user)
    form = MacroForm(request.POST or None, instance=macro, can_share=can_share)
    if request.method == "POST" and form.is_valid() and _save(request, form, macro) is not None:
        messages.success(request, _("Respuesta predefinida guardada."))
        return redirect("macros:list")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "macro": macro, "fields": rendering.FIELDS}
    return render(request, "macros/edit.html", context, status=status)


@agent_required
def macro_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@agent_required
def macro_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, selectors.editable_macro_for(request.user, pk))


@agent_required
@require_POST
def macro_delete(request: HttpRequest, pk: int) -> HttpResponse:
    macro = selectors.editable_macro_for(request.user, pk)
    services.delete_macro(macro=macro, actor=request.user)
    messages.success(request, _("Respuesta predefinida borrada."))
    return redirect("macros:list")


def _context(request: HttpRequest) -> dict[str, str]:
    """Placeholder values for the ticket or conversation named in the query (404 if not visible)."""
    if (pk := _int(request.GET.get("ticket"))) is not None:
        return rendering.ticket_context(ticket_selectors.ticket_for(request.user, pk), request.user)
    if (pk := _int(request.GET.get("conversation"))) is not None:
        return rendering.conversation_context(chat_selectors.get_conversation(request.user, pk), request.user)
    return rendering.blank_context(request.user)


def _actions(macro: Macro) -> list[str]:
    summary = []
    if macro.set_status:
        summary.append(_("Estado: %(s)s") % {"s": macro.get_set_status_display()})
    if macro.set_priority:
        summary.append(_("Prioridad: %(p)s") % {"p": macro.get_set_priority_display()})
    if macro.assign_to_self:
        summary.append(_("Asignar: a mí"))
    elif macro.assignee_id:
        summary.append(_("Asignar: %(who)s") % {"who": macro.assignee.display_name})
    return summary


@agent_required
@require_GET
def macro_search(request: HttpRequest) -> JsonResponse:
    """`?q=&ticket=<id>` or `&conversation=<id>`: the agent's matching macros, rendered for that context."""
    context = _context(request)
    results = [
        {
            "id": m.pk,
            "name": m.name,
            "shared": m.is_shared,
            "text": rendering.render(m.body, context),
            "actions": _actions(m),
        }
        for m in selectors.search(request.user, request.GET.get("q", ""))
    ]
    return JsonResponse({"results": results})


@agent_required
@require_POST
def macro_used(request: HttpRequest, pk: int) -> JsonResponse:
    """POST `message=<id>`: the chat message the agent just sent used this macro (counted once)."""
    macro = selectors.macro_for(request.user, pk)
    message_id = _int(request.POST.get("message"))
    if message_id is None:
        return JsonResponse({"error": _("Falta el mensaje.")}, status=400)
    try:
        counted = services.record_chat_use(macro=macro, actor=request.user, message_id=message_id)
    except services.MacroError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse({"counted": counted})
