"""Chat pages: start/list (/chat/), the conversation page, and the action forms. Thin: they call
selectors for reads and services for writes."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import is_agent, is_franchisee
from accounts.decorators import agent_required
from chat import attachments as chat_attachments
from chat import dispatch, selectors, services
from chat.forms import RateForm, StartForm, TransferForm
from chat.frames import message_frame
from chat.models import Conversation
from support_portal.idempotency import InFlight, Submission, token_for_form
from support_portal.redirects import safe_next

PAGE_SIZE = 20


def _ticket_link(topic: str = "") -> str:
    """Leave a ticket instead (alternative flow 5.1): /tickets/new/ prefilled with the topic."""
    return "/tickets/new/" + (f"?{urlencode({'subject': topic})}" if topic else "")


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = StartForm(request.POST or None)
    if request.method == "POST":
        if not is_franchisee(request.user):
            messages.error(request, _("Solo un franquiciado puede iniciar un chat."))
            return redirect("chat:index")
        submission = Submission(request, "chat.start")
        try:
            replay = submission.replayed()
        except InFlight:
            return HttpResponse(_("Tu envío anterior aún se está procesando."), status=409, content_type="text/plain")
        if replay is not None:
            return redirect(replay)
        if form.is_valid():
            try:
                conversation = services.start_conversation(franchisee=request.user, topic=form.cleaned_data["topic"])
            except services.ChatError as error:
                form.add_error("topic", error.detail)
            else:
                submission.done(conversation.get_absolute_url())
                return redirect(conversation.get_absolute_url())
        submission.release()
    page = Paginator(selectors.my_conversations(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "submission_token": token_for_form(request),
        "page": page,
        "agents_online": selectors.agents_online(),
        "ticket_link": _ticket_link(),
        "is_franchisee": is_franchisee(request.user),
        "is_agent_user": is_agent(request.user),
    }
    if is_agent(request.user):
        context["queue"] = selectors.waiting_queue(request.user)[:50]
        context["others"] = (
            selectors.visible_conversations(request.user)
            .filter(status=Conversation.Status.ACTIVE)
            .exclude(agent=request.user)[:50]
        )
    return render(request, "chat/index.html", context, status=400 if form.errors else 200)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    agent = is_agent(request.user)
    context = {
        "conversation": conversation,
        "chat_messages": selectors.history(conversation.pk),
        "can_post": selectors.can_post(request.user, conversation),
        "is_agent_user": agent,
        "is_owner": request.user.pk == conversation.franchisee_id,
        "can_manage": selectors.can_manage(request.user, conversation),
        "can_close": selectors.can_close(request.user, conversation),
        "agents_online": conversation.status != Conversation.Status.WAITING or selectors.agents_online(),
        "ticket_link": _ticket_link(conversation.topic),
        "wait_minutes": selectors.wait_estimate(conversation),
        "unanswered_minutes": selectors.unanswered_minutes(),
        "transfer_form": TransferForm(candidates=selectors.transfer_candidates(request.user, conversation))
        if agent
        else None,
        "rate_form": RateForm(initial={"rating": conversation.rating, "comment": conversation.rating_comment}),
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
    }
    return render(request, "chat/conversation.html", context)


def _act(request: HttpRequest, pk: int, action, success: str) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    try:
        action(conversation)
    except services.ChatError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, success)
    return redirect(conversation.get_absolute_url())


@require_POST
@agent_required
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    try:
        services.accept_conversation(conversation_id=conversation.pk, agent=request.user)
    except services.AlreadyTaken as error:
        return render(
            request, "chat/accept_conflict.html", {"conversation": conversation, "detail": error.detail}, status=409
        )
    return redirect(conversation.get_absolute_url())


@require_POST
@agent_required
def transfer(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    form = TransferForm(request.POST, candidates=selectors.transfer_candidates(request.user, conversation))
    if not form.is_valid():
        messages.error(request, _("Elige un agente de la lista."))
        return redirect(conversation.get_absolute_url())
    to_agent = form.cleaned_data["agent"]
    return _act(
        request,
        pk,
        lambda c: services.transfer_conversation(conversation_id=c.pk, actor=request.user, to_agent=to_agent),
        _("Chat transferido a %(name)s.") % {"name": to_agent.display_name},
    )


@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: services.close_conversation(conversation_id=c.pk, actor=request.user),
        _("Chat cerrado."),
    )


@require_POST
@agent_required
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: services.resolve_in_chat(conversation_id=c.pk, actor=request.user),
        _("Chat marcado como resuelto."),
    )


@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    form = RateForm(request.POST)
    if not form.is_valid():
        conversation = selectors.get_conversation(request.user, pk)
        messages.error(request, _("Elige una valoración de 1 a 5."))
        return redirect(conversation.get_absolute_url())
    return _act(
        request,
        pk,
        lambda c: services.rate_conversation(
            conversation_id=c.pk,
            user=request.user,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        ),
        _("Gracias por tu valoración."),
    )


@require_POST
def to_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    try:
        ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=request.user)
    except services.ChatError as error:
        messages.error(request, error.detail)
        return redirect(conversation.get_absolute_url())
    return redirect(f"/tickets/{ticket.pk}/")


@require_POST
@agent_required
def draft_article(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = selectors.get_conversation(request.user, pk)
    try:
        article = services.draft_article(conversation_id=conversation.pk, actor=request.user)
    except services.ChatError as error:
        messages.error(request, error.detail)
        return redirect(conversation.get_absolute_url())
    messages.success(request, _("Borrador de artículo creado a partir del chat."))
    edit_url = getattr(article, "get_edit_url", None)
    return redirect(edit_url() if edit_url else article.get_absolute_url())


# --- attachments (chat.attachments) -----------------------------------------------------------


@require_POST
def upload_attachment(request: HttpRequest, pk: int) -> JsonResponse:
    """POST `file` (+ `client_id`, optional `body`): a message carrying an image or a PDF.
    201 with the message frame (also broadcast live); 400 for a refused file or message."""
    conversation = selectors.get_conversation(request.user, pk)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "invalid", "detail": _("Elige un fichero.")}, status=400)
    try:
        message, created = chat_attachments.post_attachment(
            conversation_id=conversation.pk,
            author=request.user,
            upload=upload,
            client_id=request.POST.get("client_id", ""),
            caption=request.POST.get("body", ""),
        )
    except ValidationError as error:
        return JsonResponse({"error": "invalid", "detail": " ".join(error.messages)}, status=400)
    except services.RateLimited as error:
        return JsonResponse({"error": error.code, "detail": error.detail}, status=429)
    except services.ChatError as error:
        return JsonResponse({"error": error.code, "detail": error.detail}, status=400)
    return JsonResponse({"message": message_frame(message)}, status=201 if created else 200)


def _serve(handle, attachment, *, as_attachment: bool, content_type: str) -> FileResponse:
    response = FileResponse(
        handle, as_attachment=as_attachment, filename=attachment.original_name, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """The file, only for the conversation's franchisee and agents; always as a download."""
    attachment = selectors.attachment_for(request.user, pk, attachment_pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    return _serve(handle, attachment, as_attachment=True, content_type=attachment.content_type)


@require_GET
def attachment_thumbnail(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """The thumbnail (a JPEG we made ourselves), shown inline in the conversation."""
    attachment = selectors.attachment_for(request.user, pk, attachment_pk)
    if not attachment.thumbnail:
        raise Http404
    try:
        handle = attachment.thumbnail.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    return _serve(handle, attachment, as_attachment=False, content_type="image/jpeg")


@require_POST
@agent_required
def availability(request: HttpRequest) -> HttpResponse:
    """POST /agent/availability/ `status` = available | away (JSON when asked with Accept: application/json)."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        row = dispatch.set_availability(agent=request.user, status=request.POST.get("status", ""))
    except services.ChatError as error:
        if wants_json:
            return JsonResponse({"error": error.code, "detail": error.detail}, status=400)
        messages.error(request, error.detail)
        return redirect(safe_next(request, "agent_dashboard"))
    if wants_json:
        return JsonResponse({"status": row.status, "capacity": row.capacity})
    messages.success(request, _("Ahora estás: %(status)s.") % {"status": row.get_status_display().lower()})
    return redirect(safe_next(request, "agent_dashboard"))
