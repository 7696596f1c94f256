"""Every read of the knowledge base, scoped to the asking user."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404
from django.utils import timezone

from accounts.access import is_agent
from knowledge_base.models import (
    DEFLECTION_WINDOW,
    Article,
    ArticleFeedback,
    Category,
    Deflection,
    SearchLog,
    reader_language,
)
from knowledge_base.services import NOT_HELPFUL_FLAG_MIN


def visible_articles(user) -> QuerySet[Article]:
    """Franchisees see published articles only; agents see everything but archived ones too."""
    qs = Article.objects.select_related("category")
    if is_agent(user):
        return qs
    return qs.filter(status=Article.Status.PUBLISHED)


def one_per_translation(queryset: QuerySet[Article], language: str | None = None) -> QuerySet[Article]:
    """`queryset` without the articles whose translation in the reader's `language` (default: the
    active one) is in it too: a list shows one article of each pair, in the reader's language."""
    language = reader_language(language)
    sibling = queryset.filter(translation_group=OuterRef("translation_group"), language=language).order_by()
    return queryset.exclude(Q(translation_group__isnull=False) & ~Q(language=language) & Q(Exists(sibling)))


def readers_language_first(queryset: QuerySet[Article], language: str | None = None, *then: str) -> QuerySet[Article]:
    """Ordered with the articles in the reader's language first, then by `then` (default title)."""
    first = Case(When(language=reader_language(language), then=Value(0)), default=Value(1), output_field=IntegerField())
    return queryset.alias(other_language=first).order_by("other_language", *(then or ("title",)))


def translations_of(article: Article, user) -> list[Article]:
    """The article's translations the user may read (published only for franchisees)."""
    if article.translation_group is None:
        return []
    readable = visible_articles(user).exclude(status=Article.Status.ARCHIVED)
    if not is_agent(user):
        readable = readable.filter(status=Article.Status.PUBLISHED)
    siblings = readable.filter(translation_group=article.translation_group).exclude(pk=article.pk)
    return list(siblings.order_by("language"))


def get_article_or_404(user, slug: str) -> Article:
    try:
        return visible_articles(user).get(slug=slug)
    except Article.DoesNotExist as exc:
        raise Http404 from exc


def get_editable_article_or_404(user, slug: str) -> Article:
    if not is_agent(user):
        raise Http404
    return get_article_or_404(user, slug)


def categories_with_counts(user) -> QuerySet[Category]:
    """Categories with their number of published articles, a translated pair counted once (the
    category page lists one article of each pair)."""
    published = Q(articles__status=Article.Status.PUBLISHED)
    return (
        Category.objects.annotate(
            article_count=Count("articles", filter=published & Q(articles__translation_group=None))
            + Count("articles__translation_group", filter=published, distinct=True)
        )
        .filter(article_count__gt=0)
        .order_by("position", "name")
    )


def articles_in_category(user, category_slug: str, language: str | None = None) -> QuerySet[Article]:
    """Published articles of a category: one of each translated pair, the reader's language first."""
    published = visible_articles(user).filter(status=Article.Status.PUBLISHED, category__slug=category_slug)
    return readers_language_first(one_per_translation(published, language), language)


def recent_articles(user, limit: int = 8, language: str | None = None) -> list[Article]:
    published = visible_articles(user).filter(status=Article.Status.PUBLISHED)
    return list(one_per_translation(published, language).order_by("-updated_at")[:limit])


def related_articles(article: Article, user, limit: int = 4, language: str | None = None) -> list[Article]:
    """Published articles sharing the category or a tag, most viewed first (not its translations,
    which the page links apart; one of each other translated pair, in the reader's language)."""
    qs = visible_articles(user).filter(status=Article.Status.PUBLISHED).exclude(pk=article.pk)
    if article.translation_group is not None:
        qs = qs.exclude(translation_group=article.translation_group)
    condition = Q(category_id=article.category_id) if article.category_id else Q(pk__in=[])
    for tag in article.tag_list[:5]:
        condition |= Q(tags__icontains=tag)
    return list(one_per_translation(qs.filter(condition), language).order_by("-views_count", "title")[:limit])


def user_feedback(article: Article, user) -> ArticleFeedback | None:
    if not user.is_authenticated:
        return None
    return ArticleFeedback.objects.filter(article=article, user=user).first()


def stale_articles() -> QuerySet[Article]:
    """Published articles whose review date has come."""
    return (
        Article.objects.filter(status=Article.Status.PUBLISHED, next_review_at__lte=timezone.localdate())
        .select_related("owner", "author", "category")
        .order_by("next_review_at", "pk")
    )


def not_helpful_articles() -> QuerySet[Article]:
    """Published articles readers often found unhelpful (flagged for review)."""
    from django.db.models import F

    return (
        Article.objects.filter(status=Article.Status.PUBLISHED, not_helpful_count__gte=NOT_HELPFUL_FLAG_MIN)
        .filter(not_helpful_count__gt=F("helpful_count"))
        .select_related("owner")
        .order_by("-not_helpful_count", "pk")
    )


def confirmed_deflections() -> QuerySet[Deflection]:
    """Suggested articles opened from the ticket form that were not followed by a ticket.

    A deflection is confirmed once DEFLECTION_WINDOW has passed after the click without the
    same user creating a ticket in that window.
    """
    from tickets.models import Ticket

    ticket_after = Ticket.objects.filter(
        requester_id=OuterRef("user_id"),
        created_at__gte=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + DEFLECTION_WINDOW,
    )
    return Deflection.objects.filter(created_at__lte=timezone.now() - DEFLECTION_WINDOW).exclude(Exists(ticket_after))


def deflection_counts(limit: int = 10) -> list[dict]:
    """[{article_id, title, slug, count}] most deflecting articles first."""
    rows = (
        confirmed_deflections()
        .values("article_id", "article__title", "article__slug")
        .annotate(count=Count("id"))
        .order_by("-count", "article__title")[:limit]
    )
    return [
        {"article_id": r["article_id"], "title": r["article__title"], "slug": r["article__slug"], "count": r["count"]}
        for r in rows
    ]


def deflection_count_for(article: Article) -> int:
    return confirmed_deflections().filter(article=article).count()


# --- Learning from use: content gaps (aggregates only: queries and counts, never users) ---

GAPS_SCAN_LIMIT = 20_000  # newest logs read for the per-article "shown but never clicked" count


def content_gaps(*, franchise_id: int | None = None, days: int = 30, limit: int = 20) -> dict:
    """What searches failed: one franchise's logs, or every franchise's (franchise_id None)."""
    from tickets.models import Ticket

    since = timezone.now() - timedelta(days=days)
    logs = SearchLog.objects.filter(created_at__gte=since)
    if franchise_id is not None:
        logs = logs.filter(franchise_id=franchise_id)
    ticket_after = Ticket.objects.filter(
        requester=OuterRef("user"),
        created_at__gte=OuterRef("created_at"),
        created_at__lte=ExpressionWrapper(OuterRef("updated_at") + DEFLECTION_WINDOW, output_field=DateTimeField()),
    )
    logs = logs.annotate(ticket_after=Exists(ticket_after))
    grouped = logs.values("normalized").annotate(
        count=Count("pk"), clicks=Count("clicked"), query=Max("query"), no_results=Count("pk", filter=Q(result_count=0))
    )
    no_click = list(grouped.filter(clicks=0).order_by("-count", "normalized")[:limit])
    followed = list(
        logs.filter(ticket_after=True)
        .values("normalized")
        .annotate(count=Count("pk"), query=Max("query"))
        .order_by("-count", "normalized")[:limit]
    )
    shown: dict[str, int] = {}
    clicked: dict[str, int] = {}
    for slugs, clicked_slug in logs.order_by("-created_at").values_list("shown", "clicked__slug")[:GAPS_SCAN_LIMIT]:
        for slug in slugs[:3]:
            shown[slug] = shown.get(slug, 0) + 1
        if clicked_slug:
            clicked[clicked_slug] = clicked.get(clicked_slug, 0) + 1
    never = sorted(((n, slug) for slug, n in shown.items() if n >= 3 and not clicked.get(slug)), reverse=True)[:limit]
    titles = dict(Article.objects.filter(slug__in=[slug for _, slug in never]).values_list("slug", "title"))
    helpful = ArticleFeedback.objects.filter(
        user=OuterRef("user"), article=OuterRef("clicked"), helpful=True, created_at__gte=OuterRef("created_at")
    )
    deflected = Deflection.objects.filter(
        user=OuterRef("user"), article=OuterRef("clicked"), created_at__gte=OuterRef("created_at")
    )
    totals = logs.aggregate(
        searches=Count("pk"), clicked=Count("clicked"), tickets=Count("pk", filter=Q(ticket_after=True))
    )
    with_click = logs.filter(clicked__isnull=False)
    totals["helpful"] = with_click.filter(Exists(helpful)).count()
    totals["deflected"] = with_click.filter(Exists(deflected), ticket_after=False).count()
    return {
        "no_click": no_click,
        "followed_by_ticket": followed,
        "never_clicked": [{"slug": slug, "title": titles.get(slug, slug), "shown": n} for n, slug in never],
        "totals": totals,
    }
