"""Thin views: pages for readers and agents, the suggest API, preview, feedback, deflection."""

from __future__ import annotations

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import is_agent
from accounts.decorators import agent_required
from knowledge_base import selectors, services
from knowledge_base.forms import ArticleForm, FeedbackForm
from knowledge_base.models import BODY_MAX, Article, SearchLog
from knowledge_base.rendering import headings, render_markdown, text_diff
from knowledge_base.search import search_articles

SUGGEST_RATE = (30, 10)  # requests per seconds and user
SEARCH_PAGE_SIZE = 20


def _rate_limited(request: HttpRequest, scope: str, limit: int, seconds: int) -> bool:
    key = f"kb-rate:{scope}:{request.user.pk}"
    cache.add(key, 0, seconds)
    try:
        return cache.incr(key) > limit
    except ValueError:
        return False


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    context = {
        "categories": selectors.categories_with_counts(request.user),
        "recent": selectors.recent_articles(request.user),
    }
    return render(request, "knowledge_base/index.html", context)


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:2000]
    category = request.GET.get("category", "")[:120] or None
    result = None
    if query.strip():
        result = search_articles(query, user=request.user, limit=SEARCH_PAGE_SIZE, category=category)
        services.log_search(user=request.user, query=query, slugs=[h.slug for h in result.hits], total=result.total,
                            source=SearchLog.Source.SEARCH)  # fmt: skip
    context = {
        "query": query,
        "category": category,
        "result": result,
        "categories": selectors.categories_with_counts(request.user) if result is None else [],
        "category_articles": (
            selectors.articles_in_category(request.user, category) if result is None and category else None
        ),
    }
    return render(request, "knowledge_base/search.html", context)


@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    if _rate_limited(request, "suggest", *SUGGEST_RATE):
        return JsonResponse({"results": [], "suggestion": None, "error": "rate_limited"}, status=429)
    try:
        limit = max(1, min(int(request.GET.get("limit", 5)), 10))
    except ValueError:
        limit = 5
    query = request.GET.get("q", "")
    result = search_articles(query, user=request.user, limit=limit, with_facets=False)
    services.log_search(user=request.user, query=query, slugs=[h.slug for h in result.hits], total=result.total,
                        source=SearchLog.Source.SUGGEST)  # fmt: skip
    return JsonResponse({"results": [hit.as_json() for hit in result.hits], "suggestion": result.suggestion})


@require_GET
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_article_or_404(request.user, slug)
    services.record_view(article=article, user=request.user)
    services.record_search_click(user=request.user, article=article)
    body_html = render_markdown(article.body)
    context = {
        "article": article,
        "body_html": body_html,
        "toc": headings(body_html),
        "related": selectors.related_articles(article, request.user),
        "translations": selectors.translations_of(article, request.user),
        "feedback": selectors.user_feedback(article, request.user),
        "feedback_form": FeedbackForm(),
    }
    if is_agent(request.user):
        context["deflections"] = selectors.deflection_count_for(article)
        context["statuses"] = Article.Status.choices
    return render(request, "knowledge_base/article.html", context)


@require_POST
def feedback(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_article_or_404(request.user, slug)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Elige «Sí» o «No» para valorar el artículo."))
        return redirect(article)
    try:
        services.submit_feedback(
            article=article,
            user=request.user,
            helpful=form.cleaned_data["helpful"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as exc:
        messages.info(request, exc.messages[0])
    else:
        messages.success(request, _("¡Gracias por tu valoración!"))
    return redirect(article)


@require_POST
def deflection(request: HttpRequest, slug: str) -> HttpResponse:
    """suggest.js reports that a franchisee opened this suggested article from the ticket form."""
    article = selectors.get_article_or_404(request.user, slug)
    if _rate_limited(request, "deflection", 30, 60):
        return HttpResponse(status=429)
    services.record_deflection_candidate(article=article, user=request.user)
    return HttpResponse(status=204)


@agent_required
def create(request: HttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, initial={"owner": request.user})
    if request.method == "POST" and form.is_valid():
        try:
            article = services.create_article(
                actor=request.user, status=form.cleaned_data["status"], **form.service_fields()
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Artículo creado."))
            return redirect(article.get_edit_url())
    return render(request, "knowledge_base/edit.html", {"form": form, "article": None})


@agent_required
def edit(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    form = ArticleForm(request.POST or None, instance=Article.objects.get(pk=article.pk))
    if request.method == "POST" and form.is_valid():
        try:
            article = services.update_article(
                article=article,
                actor=request.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                **form.service_fields(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect(article.get_edit_url())
    context = {"form": form, "article": article, "translations": selectors.translations_of(article, request.user)}
    return render(request, "knowledge_base/edit.html", context)


@agent_required
@require_POST
def preview(request: HttpRequest) -> JsonResponse:
    body = request.POST.get("body", "")
    if len(body) > BODY_MAX:
        return JsonResponse({"error": _("El contenido es demasiado largo.")}, status=400)
    return JsonResponse({"html": str(render_markdown(body))})


@agent_required
@require_POST
def change_status(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    status = request.POST.get("status", "")
    if request.POST.get("delete") == "1":
        services.delete_article(article=article, actor=request.user)
        messages.success(request, _("Artículo eliminado."))
        return redirect("knowledge_base:index")
    if status not in Article.Status.values:
        messages.error(request, _("Estado no válido."))
    else:
        services.set_status(article=article, actor=request.user, status=status)
        messages.success(request, _("Estado actualizado."))
    return redirect(article.get_edit_url())


@agent_required
@require_POST
def reviewed(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    article = services.mark_reviewed(article=article, actor=request.user)
    messages.success(request, _("Revisión registrada. Próxima revisión: %(date)s") % {"date": article.next_review_at})
    if request.POST.get("next") == "review":
        return redirect("knowledge_base:review")
    return redirect(article.get_edit_url())


@agent_required
@require_GET
def history(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    revisions = article.revisions.select_related("editor").only(
        "number",
        "title",
        "status",
        "note",
        "note_text",
        "created_at",
        "editor__username",
        "editor__first_name",
        "editor__last_name",
    )
    return render(request, "knowledge_base/history.html", {"article": article, "revisions": revisions})


@agent_required
@require_GET
def revision_diff(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    revision = get_object_or_404(article.revisions.select_related("editor"), number=number)
    previous = article.revisions.filter(number__lt=number).order_by("-number").first()
    context = {
        "article": article,
        "revision": revision,
        "previous": previous,
        "title_changed": previous is not None and previous.title != revision.title,
        "diff": text_diff(previous.body if previous else "", revision.body),
    }
    return render(request, "knowledge_base/revision.html", context)


@agent_required
@require_POST
def restore(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    article = selectors.get_editable_article_or_404(request.user, slug)
    revision = get_object_or_404(article.revisions, number=number)
    services.restore_revision(article=article, revision=revision, actor=request.user)
    messages.success(request, _("Revisión %(n)s restaurada.") % {"n": number})
    return redirect(article.get_edit_url())


@agent_required
@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    context = {
        "stale": selectors.stale_articles()[:100],
        "not_helpful": selectors.not_helpful_articles()[:100],
        "deflections": selectors.deflection_counts(limit=50),
    }
    return render(request, "knowledge_base/review.html", context)


@agent_required
@require_GET
def content_gaps(request: HttpRequest) -> HttpResponse:
    """KB owners and agents: what franchisees searched without finding (one franchise or all)."""
    from accounts.selectors import franchises_by_name

    franchises = franchises_by_name()
    franchise = next((f for f in franchises if str(f.pk) == request.GET.get("franchise", "")), None)
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 365))
    except ValueError:
        days = 30
    gaps = selectors.content_gaps(franchise_id=franchise.pk if franchise else None, days=days)
    context = {"gaps": gaps, "franchises": franchises, "franchise": franchise, "days": days}
    return render(request, "knowledge_base/gaps.html", context)


@agent_required
@require_POST
def draft_for_query(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "").strip()[:200]
    if not query:
        messages.error(request, _("Falta la consulta."))
        return redirect("knowledge_base:gaps")
    article = services.draft_article_for_query(actor=request.user, query=query)
    messages.success(request, _("Borrador creado: complétalo y publícalo."))
    return redirect(article.get_edit_url())
