"""Ticket pages, ticket actions and the agent dashboard (thin: services write, selectors read)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import is_agent, is_franchisee, is_supervisor
from accounts.decorators import agent_required
from accounts.models import User
from macros import selectors as macro_selectors
from macros import services as macro_services
from notifications.services import mark_read_for_target
from support_portal.idempotency import InFlight, Submission, token_for_form
from support_portal.redirects import safe_next
from support_portal.throttle import RateLimited
from tickets import custom_fields as cf
from tickets import figures, selectors, services, tab_counts
from tickets.forms import BulkForm, CommentForm, RateForm, SavedViewForm, TicketForm
from tickets.ids import parse_id
from tickets.markdown import render_markdown
from tickets.models import TRANSITIONS, Priority, SlaState, Status, Ticket, TicketLink
from tickets.pagination import Page, page_of

PAGE_SIZE = 25


def _int(value: str | None) -> int | None:
    return parse_id(value)


def _page(request: HttpRequest, queryset) -> Page:
    return page_of(queryset, request.GET.get("page"), PAGE_SIZE)


def _errors_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _back(request: HttpRequest, ticket: Ticket) -> HttpResponseRedirect:
    return redirect(safe_next(request, ticket.get_absolute_url()))


def _act(request: HttpRequest, ticket: Ticket, action: Callable[[], object], done: str) -> HttpResponseRedirect:
    """Run a service call; its refusal becomes an error message, never a partial change."""
    try:
        action()
    except services.TicketError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, done)
    return _back(request, ticket)


# --- franchisee and shared pages -------------------------------------------------


@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").strip()
    tag = request.GET.get("tag", "").strip()[:50] if is_agent(request.user) else ""
    page = _page(request, selectors.franchise_tickets(request.user, status=status, q=q, tag=tag))
    query = urlencode({k: v for k, v in {"status": status, "q": q, "tag": tag}.items() if v})
    context = {"page": page, "status": status, "q": q, "tag": tag, "statuses": Status.choices, "query": query}
    if is_agent(request.user):
        context["tag_names"] = selectors.tag_names()
    return render(request, "tickets/list.html", context)


@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    if not (is_franchisee(request.user) or is_agent(request.user)):
        raise Http404
    for_agent = is_agent(request.user)
    form = TicketForm(request.POST or None, request.FILES or None, for_agent=for_agent)
    submission = Submission(request, "ticket.create")
    status, retry_after = 200, 0
    if request.method == "POST" and (replay := _replayed(request, submission)) is not None:
        return replay
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.create_ticket(
                actor=request.user,
                subject=data["subject"],
                description=data["description"],
                franchise=data.get("franchise"),
                requester=data.get("requester"),
                category=data.get("category"),
                priority=data["priority"],
                attachments=data["files"],
                custom_values=data.get("custom_values", {}),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.TicketError as exc:
            form.add_error(None, str(exc))
        except RateLimited as exc:
            form.add_error(None, exc.detail)
            status, retry_after = 429, exc.retry_after
        else:
            submission.done(ticket.get_absolute_url())
            messages.success(request, _("Ticket %(n)s creado.") % {"n": ticket.number})
            return redirect(ticket.get_absolute_url())
    submission.release()
    if request.method == "POST" and status == 200:
        status = 400
    context = {"form": form, "submission_token": token_for_form(request)}
    return _with_retry_after(render(request, "tickets/new.html", context, status=status), retry_after)


def _replayed(request: HttpRequest, submission: Submission) -> HttpResponse | None:
    """A replayed submission token: back to what the first POST created (or 409 while it runs)."""
    try:
        url = submission.replayed()
    except InFlight:
        return HttpResponse(_("Tu envío anterior aún se está procesando."), status=409, content_type="text/plain")
    if url is None:
        return None
    messages.info(request, _("Ya habíamos recibido este envío: no se ha duplicado."))
    return redirect(url)


def _with_retry_after(response: HttpResponse, seconds: int) -> HttpResponse:
    if response.status_code == 429:
        response["Retry-After"] = str(seconds)
    return response


def _detail_context(request: HttpRequest, ticket: Ticket, comment_form: CommentForm | None = None) -> dict:
    user = request.user
    agent = is_agent(user)
    context = {
        "ticket": ticket,
        "description_html": render_markdown(ticket.description, line_breaks=ticket.source == "chat"),
        "timeline": selectors.timeline(ticket, user),
        "attachments": selectors.ticket_attachments(ticket),
        "comment_form": comment_form or CommentForm(),
        "submission_token": token_for_form(request),
        "is_agent_view": agent,
        "can_comment": True,  # on a closed ticket a public reply opens a follow-up (services.follow_up)
        "can_reopen": services.can_reopen(ticket, user),
        "reopen_deadline": services.reopen_deadline(ticket),
        "can_rate": is_franchisee(user) and ticket.status in (Status.RESOLVED, Status.CLOSED) and ticket.resolved_at,
        "rate_form": RateForm(initial={"rating": ticket.rating, "comment": ticket.rating_comment}),
        "custom_values": cf.values_of(ticket),
        "followers": selectors.followers(ticket),
        "follower_candidates": list(services.follower_candidates(ticket, user)[:200]),
        "can_remove_followers": services.can_add_followers(ticket, user),
        "links": selectors.ticket_links(ticket, user),
    }
    if agent:
        context.update(
            {
                "next_statuses": [(s, Status(s).label) for s in Status.values if s in TRANSITIONS[ticket.status]],
                "priorities": Priority.choices,
                "agents": selectors.active_agents(),
                "categories": selectors.categories(),
                "merge_targets": selectors.mergeable_targets(ticket),
                "can_reassign": ticket.assignee_id in (None, user.pk) or is_supervisor(user),
                "tags": selectors.ticket_tags(ticket),
                "tag_names": selectors.tag_names(),
                "link_kinds": TicketLink.relation_choices(),
                "time_spent": selectors.time_spent_by_agent(ticket) if ticket.time_spent_minutes else [],
            }
        )
    return context


@require_GET
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(request.user, pk)
    # Opening the ticket is reading what the bell said about it.
    mark_read_for_target(request.user, ticket)
    return render(request, "tickets/detail.html", _detail_context(request, ticket))


@require_POST
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(request.user, pk)
    form = CommentForm(request.POST, request.FILES)
    submission = Submission(request, f"comment.create:{ticket.pk}")
    status, retry_after = 400, 0
    if (replay := _replayed(request, submission)) is not None:
        return replay
    if form.is_valid():
        reply = {
            "ticket": ticket,
            "actor": request.user,
            "body": form.cleaned_data["body"],
            "internal": form.cleaned_data["internal"] and is_agent(request.user),
            "attachments": form.cleaned_data["files"],
        }
        if is_agent(request.user):
            reply["time_spent_minutes"] = form.cleaned_data.get("time_spent_minutes")
        try:
            if is_agent(request.user) and (macro_pk := _int(request.POST.get("macro"))):
                # a reply that used a macro: its ticket actions and usage count, same transaction
                macro = macro_selectors.macro_for(request.user, macro_pk)
                macro_services.reply_to_ticket(macro=macro, **reply)
            elif ticket.status == Status.CLOSED and not reply["internal"]:
                follow_up = services.follow_up(
                    ticket=ticket, actor=request.user, body=reply["body"], attachments=reply["attachments"]
                )
                submission.done(follow_up.get_absolute_url())
                messages.success(
                    request,
                    _("El ticket estaba cerrado: hemos abierto %(n)s para seguir con él.") % {"n": follow_up.number},
                )
                return redirect(follow_up.get_absolute_url())
            else:
                services.add_comment(**reply)
        except ValidationError as exc:
            form.add_error(None, _errors_text(exc))
        except (services.TicketError, macro_services.MacroError) as exc:
            form.add_error(None, str(exc))
        except RateLimited as exc:
            form.add_error(None, exc.detail)
            status, retry_after = 429, exc.retry_after
        else:
            submission.done(ticket.get_absolute_url())
            messages.success(request, _("Respuesta añadida."))
            return redirect(ticket.get_absolute_url())
    submission.release()
    return _with_retry_after(
        render(request, "tickets/detail.html", _detail_context(request, ticket, form), status=status), retry_after
    )


@require_POST
def ticket_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(request.user, pk)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        ticket,
        lambda: services.reopen(ticket=ticket, actor=request.user, reason=reason),
        _("Ticket reabierto."),
    )


@require_POST
def ticket_rate(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(request.user, pk)
    form = RateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Elige una valoración de 1 a 5."))
        return _back(request, ticket)
    return _act(
        request,
        ticket,
        lambda: services.rate(
            ticket=ticket, actor=request.user, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
        ),
        _("Gracias por tu valoración."),
    )


@require_GET
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """Serve a file only to who may see it; always as a download, never rendered inline."""
    attachment = selectors.attachment_for(request.user, pk, attachment_pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# --- agent actions -----------------------------------------------------------------


def _agent_action(name: str, message: str, call: Callable[[HttpRequest, Ticket], object]):
    @agent_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        ticket = selectors.ticket_for(request.user, pk)
        return _act(request, ticket, lambda: call(request, ticket), message)

    view.__name__ = name
    view.__doc__ = f"POST: {name.replace('_', ' ')} (agents)."
    return view


def _assignee(request: HttpRequest) -> User:
    assignee = User.objects.filter(pk=_int(request.POST.get("assignee"))).first()
    if assignee is None:
        raise services.TicketError(_("Elige un agente."))
    return assignee


def _category(request: HttpRequest):
    pk = _int(request.POST.get("category"))
    return selectors.category_by_pk(pk) if pk else None


def _merge(request: HttpRequest, ticket: Ticket) -> Ticket:
    target_pk = _int(request.POST.get("target", "").upper().removeprefix("T-"))
    target = Ticket.objects.filter(pk=target_pk).first() if target_pk else None
    if target is None:
        raise services.TicketError(_("Indica el ticket que se conserva."))
    return services.merge(source=ticket, target=target, actor=request.user)


ticket_claim = _agent_action("ticket_claim", _("Ticket tomado."), lambda r, t: services.claim(ticket=t, actor=r.user))
ticket_assign = _agent_action(
    "ticket_assign", _("Ticket asignado."), lambda r, t: services.assign(ticket=t, actor=r.user, assignee=_assignee(r))
)
ticket_unassign = _agent_action(
    "ticket_unassign", _("Ticket devuelto a la cola."), lambda r, t: services.unassign(ticket=t, actor=r.user)
)
ticket_status = _agent_action(
    "ticket_status",
    _("Estado actualizado."),
    lambda r, t: services.change_status(ticket=t, actor=r.user, status=r.POST.get("status", "")),
)
ticket_priority = _agent_action(
    "ticket_priority",
    _("Prioridad actualizada."),
    lambda r, t: services.change_priority(ticket=t, actor=r.user, priority=r.POST.get("priority", "")),
)
ticket_category = _agent_action(
    "ticket_category",
    _("Categoría actualizada."),
    lambda r, t: services.change_category(ticket=t, actor=r.user, category=_category(r)),
)
ticket_resolve = _agent_action(
    "ticket_resolve", _("Ticket resuelto."), lambda r, t: services.resolve(ticket=t, actor=r.user)
)
ticket_close = _agent_action("ticket_close", _("Ticket cerrado."), lambda r, t: services.close(ticket=t, actor=r.user))
ticket_merge = _agent_action("ticket_merge", _("Tickets fusionados."), _merge)


def _tags(request: HttpRequest, ticket: Ticket) -> Ticket:
    """`add` (comma-separated names) and/or `remove` (one name) in one post."""
    if remove := request.POST.get("remove", ""):
        ticket = services.remove_tag(ticket=ticket, actor=request.user, tag=remove)
    if add := request.POST.get("add", ""):
        ticket = services.add_tags(ticket=ticket, actor=request.user, tags=add[:1000])
    return ticket


ticket_tags = _agent_action("ticket_tags", _("Etiquetas actualizadas."), _tags)


def _custom_fields(request: HttpRequest, ticket: Ticket) -> Ticket:
    """The ticket page's custom-field form: `cf_<id>` inputs of the ticket's category's fields."""
    values = {f.key: request.POST.get(cf.input_name(f), "") for f in cf.fields_for(ticket.category_id)}
    return services.set_custom_values(ticket=ticket, actor=request.user, values=values)


ticket_custom_fields = _agent_action("ticket_custom_fields", _("Campos actualizados."), _custom_fields)


def _link(request: HttpRequest, ticket: Ticket) -> object:
    """`kind`: a relation read from this ticket's side ("blocked_by": the other ticket blocks this one)."""
    other = selectors.linkable_ticket(request.user, request.POST.get("other", ""))
    relation = request.POST.get("kind", "")
    kind, reverse = TicketLink.RELATIONS.get(relation, (relation, False))  # an unknown kind: the service refuses it
    source, target = (other, ticket) if reverse else (ticket, other)
    return services.link_tickets(ticket=source, actor=request.user, kind=kind, other=target)


ticket_link = _agent_action("ticket_link", _("Tickets vinculados."), _link)


@agent_required
@require_POST
def ticket_unlink(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(request.user, pk)
    link = selectors.link_for(request.user, ticket, link_pk)
    return _act(request, ticket, lambda: services.unlink_tickets(link=link, actor=request.user), _("Vínculo quitado."))


# --- followers (the requester and agents) -------------------------------------------------


@require_POST
def ticket_follower_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a follower chosen among the candidates the user may add (anyone else: 404)."""
    ticket = selectors.ticket_for(request.user, pk)
    follower_pk = _int(request.POST.get("follower"))
    candidates = services.follower_candidates(ticket, request.user, include_followers=True)
    follower = candidates.filter(pk=follower_pk).first() if follower_pk else None
    if follower is None:
        raise Http404
    return _act(
        request,
        ticket,
        lambda: services.add_follower(ticket=ticket, actor=request.user, follower=follower),
        _("%(who)s sigue el ticket.") % {"who": follower.display_name},
    )


@require_POST
def ticket_follower_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    """Remove a follower (idempotent); someone who could not follow this ticket, or whom the user
    may not remove, is a 404."""
    ticket = selectors.ticket_for(request.user, pk)
    follower = selectors.possible_follower(ticket, user_pk)
    if follower is None or not services.can_remove_follower(ticket, request.user, follower):
        raise Http404
    return _act(
        request,
        ticket,
        lambda: services.remove_follower(ticket=ticket, actor=request.user, follower=follower),
        _("%(who)s ya no sigue el ticket.") % {"who": follower.display_name},
    )


@agent_required
@require_POST
def ticket_draft_article(request: HttpRequest, pk: int) -> HttpResponse:
    """Draft a knowledge-base article from a resolved ticket and open it for editing."""
    ticket = selectors.ticket_for(request.user, pk)
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        messages.error(request, _("Solo se redacta un artículo a partir de un ticket resuelto."))
        return redirect(ticket.get_absolute_url())
    try:
        from knowledge_base.services import draft_article_from_ticket
    except ImportError:
        messages.error(request, _("La base de conocimiento no está disponible."))
        return redirect(ticket.get_absolute_url())
    article = draft_article_from_ticket(ticket=ticket, actor=request.user)
    messages.success(request, _("Borrador de artículo creado a partir de %(n)s.") % {"n": ticket.number})
    edit_url = getattr(article, "get_edit_url", None)
    return redirect(edit_url() if callable(edit_url) else article.get_absolute_url())


@agent_required
@require_POST
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    target = safe_next(request, "/agent/")
    if not form.is_valid():
        messages.error(request, _("Selecciona tickets y una acción válida."))
        return redirect(target)
    data = form.cleaned_data
    if data["action"] == "assign" and data["assignee"] is None:
        messages.error(request, _("Elige un agente."))
        return redirect(target)
    if data["action"] == "status" and not data["status"]:
        messages.error(request, _("Elige un estado."))
        return redirect(target)
    done, errors = services.bulk_update(
        actor=request.user,
        ticket_ids=data["tickets"],
        action=data["action"],
        assignee=data["assignee"],
        status=data["status"],
    )
    if done:
        messages.success(request, _("%(n)d tickets actualizados.") % {"n": done})
    for error in errors[:20]:
        messages.error(request, error)
    return redirect(target)


# --- agent dashboard ------------------------------------------------------------------


def _filters(request: HttpRequest) -> selectors.DashboardFilters:
    return selectors.filters_from_query(request.GET)


def _field_filter_inputs(filters: selectors.DashboardFilters) -> list[tuple]:
    """The chosen category's custom fields as filter inputs: (field, input name, current value)."""
    current = dict(filters.fields)
    return [(f, cf.input_name(f), current.get(f.pk, "")) for f in cf.fields_for(filters.category)]


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    current: bool
    count: object
    view: object = None  # the SavedView of a saved tab


QUEUE_LABELS = {"unassigned": _lazy("Sin asignar"), "mine": _lazy("Mis tickets"), "open": _lazy("Todos los abiertos")}


def _tabs(request: HttpRequest, filters: selectors.DashboardFilters, current_view) -> list[Tab]:
    """The queues and the agent's saved views, each with its cached live count."""
    views = selectors.saved_views(request.user)
    wanted = {f"queue:{q}": selectors.DashboardFilters(view=q) for q in selectors.QUEUES}
    wanted |= {f"saved:{v.pk}": selectors.filters_from_query(QueryDict(v.query)) for v in views}
    counts = tab_counts.tab_counts(request.user, wanted)
    plain = current_view is None and not selectors.filter_query(
        {k: v for k, v in request.GET.items() if k not in ("view", "sort", "page")}
    )
    tabs = [
        Tab(str(QUEUE_LABELS[q]), f"?view={q}", plain and filters.view == q, counts[f"queue:{q}"])
        for q in selectors.QUEUES
    ]
    for v in views:
        current = current_view is not None and current_view.pk == v.pk
        tabs.append(Tab(v.name, f"?saved={v.pk}", current, counts[f"saved:{v.pk}"], v))
    return tabs


def _chat_figures() -> list:
    """The chat figures of the last 7 and 30 days (chat depends on tickets, so imported here)."""
    from chat.figures import cached_chat_periods

    return cached_chat_periods()


@agent_required
@require_GET
def agent_dashboard(request: HttpRequest) -> HttpResponse:
    """Queues and saved views as tabs (live counts), filters, bulk actions and, for supervisors, team figures."""
    saved = selectors.saved_view_for(request.user, _int(request.GET.get("saved")))
    source = QueryDict(saved.query) if saved is not None else request.GET
    filters = selectors.filters_from_query(source)
    page = _page(request, selectors.dashboard_tickets(request.user, filters))
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "filters": filters,
        "page": page,
        "query": urlencode(params),
        "saved_view": saved,
        "view_query": saved.query if saved is not None else selectors.filter_query(request.GET),
        "tabs": _tabs(request, filters, saved),
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "sla_states": SlaState.choices,
        "categories": selectors.categories(),
        "franchises": selectors.franchises(),
        "agents": selectors.active_agents(),
        "tag_names": selectors.tag_names(),
        "field_filters": _field_filter_inputs(filters),
        "bulk_actions": BulkForm.ACTIONS,
        "figures": figures.cached_team_figures() if is_supervisor(request.user) else None,
        "chat_figures": _chat_figures() if is_supervisor(request.user) else None,
        "views": [(q, QUEUE_LABELS[q]) for q in selectors.QUEUES],
        "sorts": [
            ("due", _("Vence antes")),
            ("-due", _("Vence después")),
            ("-created", _("Más nuevos")),
            ("created", _("Más antiguos")),
            ("relevance", _("Relevancia (con búsqueda)")),
        ],
    }
    return render(request, "tickets/agent_dashboard.html", context)


# --- saved views ----------------------------------------------------------------------------


@agent_required
@require_GET
def saved_view_list(request: HttpRequest) -> HttpResponse:
    """Manage the agent's saved views (rename, share, order, delete); the others' shared ones listed."""
    views = selectors.saved_views(request.user)
    own = [v for v in views if v.owner_id == request.user.pk]
    others = [v for v in views if v.owner_id != request.user.pk]
    return render(request, "tickets/saved_views.html", {"own": own, "others": others, "form": SavedViewForm()})


@agent_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the dashboard's current filters (`query`) under a name; then open the new tab."""
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect(safe_next(request, reverse("agent_dashboard")))
    try:
        view = services.save_view(actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
        return redirect(safe_next(request, reverse("agent_dashboard")))
    messages.success(request, _("Vista «%(name)s» guardada.") % {"name": view.name})
    return redirect(view.get_absolute_url())


@agent_required
@require_POST
def saved_view_update(request: HttpRequest, pk: int) -> HttpResponse:
    view = selectors.own_view(request.user, pk)
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    else:
        data = form.cleaned_data
        try:
            services.update_view(view=view, actor=request.user, name=data["name"], shared=data["shared"])
        except ValidationError as exc:
            messages.error(request, _errors_text(exc))
        else:
            messages.success(request, _("Vista actualizada."))
    return redirect(safe_next(request, reverse("saved_views:list")))


@agent_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = selectors.own_view(request.user, pk)
    services.delete_view(view=view, actor=request.user)
    messages.success(request, _("Vista «%(name)s» eliminada.") % {"name": view.name})
    return redirect(safe_next(request, reverse("saved_views:list")))


@agent_required
@require_POST
def saved_view_move(request: HttpRequest, pk: int) -> HttpResponse:
    view = selectors.own_view(request.user, pk)
    services.move_view(view=view, actor=request.user, up=request.POST.get("direction") == "up")
    return redirect(safe_next(request, reverse("saved_views:list")))
