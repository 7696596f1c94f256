"""Every write of the knowledge base: one transaction, a revision, index update on commit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.access import is_agent, is_franchisee
from knowledge_base.models import (
    BODY_MAX,
    SEARCH_CLICK_WINDOW,
    SUMMARY_MAX,
    TITLE_MAX,
    Article,
    ArticleFeedback,
    ArticleRevision,
    ArticleView,
    Category,
    Deflection,
    SearchLog,
    split_tags,
)
from notifications.kinds import ARTICLE_PUBLISHED, ARTICLE_REVIEW_DUE
from notifications.services import notify
from support_portal.stored_text import StoredText, choice, is_stored, render, stored, when
from support_portal.text import INVISIBLE_MESSAGE, has_visible_text

if TYPE_CHECKING:
    from accounts.models import User

#: `translation=UNCHANGED` (the default of create/update_article): leave the translation link alone.
UNCHANGED = object()
EDITABLE_FIELDS = ("title", "summary", "body", "category", "tags", "language", "owner", "review_interval_days")
#: Published articles with at least this many "not helpful" votes, and more of them than
#: "helpful" ones, are flagged for review.
NOT_HELPFUL_FLAG_MIN = 3


def _require_agent(actor: User | None) -> None:
    if not is_agent(actor):
        raise PermissionDenied(_("Solo el equipo de soporte puede editar la base de conocimiento."))


_deferred = threading.local()


def _schedule_index(article_id: int) -> None:
    """Enqueue an index update after commit (or collect it inside deferred_indexing())."""
    pending = getattr(_deferred, "ids", None)
    if pending is not None:
        pending.add(article_id)
        return
    from knowledge_base.tasks import update_article_index, update_article_vectors

    transaction.on_commit(lambda: update_article_index.delay(article_id), robust=True)
    if settings.KB_DENSE_SEARCH:  # the embedding runs apart: a slow model never delays the index
        transaction.on_commit(lambda: update_article_vectors.delay([article_id]), robust=True)


@contextmanager
def deferred_indexing() -> Iterator[set[int]]:
    """Bulk writes (imports): collect the touched ids and index them in batches at the end."""
    from knowledge_base.tasks import update_article_vectors, update_articles_index

    _deferred.ids = ids = set()
    try:
        yield ids
    finally:
        _deferred.ids = None
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        batch = ordered[start : start + 500]
        transaction.on_commit(lambda batch=batch: update_articles_index.delay(batch), robust=True)
        if settings.KB_DENSE_SEARCH:
            transaction.on_commit(lambda batch=batch: update_article_vectors.delay(batch), robust=True)


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:80].strip("-") or "articulo"
    slug, n = base, 2
    taken = Article.objects.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _revision(article: Article, actor: User | None, note: StoredText | str = "") -> ArticleRevision:
    """A revision; `note` is an editor's text, or a stored text of the portal (read per language)."""
    last = article.revisions.aggregate(n=Max("number"))["n"] or 0
    note_text = note if is_stored(note) else {}
    return ArticleRevision.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        summary=article.summary,
        body=article.body,
        tags=article.tags,
        category_name=article.category.name if article.category_id else "",
        status=article.status,
        editor=actor,
        note=render(note, settings.LANGUAGE_CODE)[:200],
        note_text=note_text,
    )


def _clean_fields(fields: dict) -> dict:
    cleaned = dict(fields)
    if "title" in cleaned:
        cleaned["title"] = " ".join(str(cleaned["title"] or "").split())[:TITLE_MAX]
        if not has_visible_text(cleaned["title"]):
            raise ValidationError({"title": _("El título es obligatorio.")})
    if "body" in cleaned and not has_visible_text(cleaned["body"]):
        raise ValidationError({"body": INVISIBLE_MESSAGE})
    if "body" in cleaned and len(cleaned["body"] or "") > BODY_MAX:
        raise ValidationError({"body": _("El contenido es demasiado largo.")})
    if "summary" in cleaned:
        cleaned["summary"] = " ".join(str(cleaned["summary"] or "").split())[:SUMMARY_MAX]
    if "tags" in cleaned:
        tags = cleaned["tags"]
        cleaned["tags"] = ", ".join(split_tags(tags if isinstance(tags, str) else ", ".join(tags or [])))[:300]
    return cleaned


def _apply_status(article: Article, status: str) -> None:
    if status not in Article.Status.values:
        raise ValidationError({"status": _("Estado no válido.")})
    article.status = status
    if status == Article.Status.PUBLISHED:
        today = timezone.localdate()
        if article.published_at is None:
            article.published_at = timezone.now()
        if article.next_review_at is None or article.next_review_at <= today:
            article.next_review_at = article.compute_next_review(today)


def _notify_source_requester(article: Article, actor: User | None) -> None:
    """Tell the requester of the ticket an article was drafted from that it is published."""
    if article.status != Article.Status.PUBLISHED or article.source_notified or not article.source_ticket_id:
        return
    requester = article.source_ticket.requester
    article.source_notified = True
    if requester is None:
        return
    notify(
        recipient=requester,
        kind=ARTICLE_PUBLISHED,
        title=stored("Nuevo artículo de ayuda a partir de tu ticket: %(title)s", title=article.title),
        body=article.summary,
        url=article.get_absolute_url(),
        target=article,
        actor=actor,
    )


@transaction.atomic
def create_article(
    *, actor: User | None, title: str, body: str, status: str = Article.Status.DRAFT, translation=UNCHANGED, **fields
) -> Article:
    """A new article (agents; actor None only for imports and demo data); `translation`: the
    article it translates (see set_translation)."""
    if actor is not None:
        _require_agent(actor)
    fields = _clean_fields({"title": title, "body": body, **fields})
    slug = fields.pop("slug", None) or unique_slug(fields["title"])
    article = Article(slug=slug, author=actor, owner=fields.pop("owner", None) or actor, **fields)
    _apply_status(article, status)
    article.full_clean(exclude=["category", "owner", "author", "source_ticket", "source_conversation"])
    article.save()
    _revision(article, actor, note=stored("Creado"))
    _notify_source_requester(article, actor)
    if article.source_notified:
        article.save(update_fields=["source_notified"])
    _schedule_index(article.pk)
    if translation is not UNCHANGED and translation is not None:
        article = set_translation(article=article, translation=translation, actor=actor)
    return article


@transaction.atomic
def update_article(
    *,
    article: Article,
    actor: User | None,
    status: str | None = None,
    note: StoredText | str = "",
    translation=UNCHANGED,
    **fields,
) -> Article:
    """Save changed fields (and optionally a new status); records a revision when anything changed.
    `translation`: the article it translates, None to unlink it (see set_translation)."""
    if actor is not None:
        _require_agent(actor)
    article = Article.objects.select_for_update(of=("self",)).select_related("category").get(pk=article.pk)
    fields = _clean_fields({k: v for k, v in fields.items() if k in EDITABLE_FIELDS})
    if translation is not UNCHANGED:
        # The link first, checked against the new language; then the other fields.
        set_translation(article=article, translation=translation, actor=actor, language=fields.get("language"))
        article.translation_group = Article.objects.values_list("translation_group", flat=True).get(pk=article.pk)
    _check_language_in_group(article, fields.get("language", article.language))
    changed = False
    for name, value in fields.items():
        if getattr(article, name) != value:
            setattr(article, name, value)
            changed = True
    if status is not None and status != article.status:
        _apply_status(article, status)
        changed = True
    if not changed:
        return article
    article.full_clean(exclude=["category", "owner", "author", "source_ticket", "source_conversation"])
    article.save()
    _revision(article, actor, note=note)
    _notify_source_requester(article, actor)
    if article.source_notified:
        Article.objects.filter(pk=article.pk).update(source_notified=True)
    _schedule_index(article.pk)
    return article


def _check_language_in_group(article: Article, language: str) -> None:
    """Two articles of one translation group are never in the same language."""
    if article.translation_group is None:
        return
    taken = article.translations().filter(language=language).first()
    if taken is not None:
        raise ValidationError(
            {"language": _("«%(title)s», su traducción, ya está en ese idioma.") % {"title": taken.title}}
        )


@transaction.atomic
def set_translation(
    *, article: Article, translation: Article | None, actor: User | None, language: str | None = None
) -> Article:
    """Link `article` to `translation` (the same article in another language), or unlink it (None).

    Linked articles share `translation_group`, at most one per language: the article leaves its
    old group (a group left with one article is dissolved) and joins its translation's. The
    article's page shows "Also in English / También en español", and lists and search show the
    reader's language of the pair. A revision records the change; both sides are re-indexed.
    """
    if actor is not None:
        _require_agent(actor)
    article = Article.objects.select_for_update().get(pk=article.pk)
    language = language or article.language  # update_article may be changing it
    current = article.translation_group
    if translation is not None:
        translation = Article.objects.select_for_update().get(pk=translation.pk)
        if translation.pk == article.pk:
            raise ValidationError({"translation": _("Un artículo no puede ser su propia traducción.")})
        if translation.language == language:
            raise ValidationError({"translation": _("La traducción tiene que estar en otro idioma.")})
        if current is not None and translation.translation_group == current:
            return article  # already linked
        if translation.translation_group is not None:
            taken = (
                Article.objects.filter(translation_group=translation.translation_group, language=language)
                .exclude(pk=article.pk)
                .first()
            )
            if taken is not None:
                raise ValidationError(
                    {
                        "translation": _("«%(other)s» ya tiene su traducción en este idioma: «%(title)s».")
                        % {"other": translation.title, "title": taken.title}
                    }
                )
    elif current is None:
        return article
    touched = {article.pk}
    if current is not None:
        Article.objects.filter(pk=article.pk).update(translation_group=None)
        rest = list(Article.objects.filter(translation_group=current).values_list("pk", flat=True))
        if len(rest) == 1:
            Article.objects.filter(pk__in=rest).update(translation_group=None)
        touched.update(rest)
    if translation is not None:
        group = translation.translation_group or uuid.uuid4()
        Article.objects.filter(pk__in=[article.pk, translation.pk]).update(translation_group=group)
        touched.add(translation.pk)
        note = stored("Enlazada su traducción: %(title)s", title=translation.title)
    else:
        note = stored("Quitado el enlace con su traducción")
    article.refresh_from_db()
    _revision(article, actor, note=note)
    for pk in sorted(touched):
        _schedule_index(pk)  # the index keeps the group: search shows the reader's language of a pair
    return article


def set_status(*, article: Article, actor: User, status: str) -> Article:
    return update_article(article=article, actor=actor, status=status, note=choice(Article.Status(status)))


def publish_article(*, article: Article, actor: User) -> Article:
    return set_status(article=article, actor=actor, status=Article.Status.PUBLISHED)


def archive_article(*, article: Article, actor: User) -> Article:
    return set_status(article=article, actor=actor, status=Article.Status.ARCHIVED)


@transaction.atomic
def delete_article(*, article: Article, actor: User) -> None:
    _require_agent(actor)
    article_id = article.pk
    article.delete()
    _schedule_index(article_id)


@transaction.atomic
def restore_revision(*, article: Article, revision: ArticleRevision, actor: User) -> Article:
    """Bring back the text of an old revision as a new revision (history is never rewritten)."""
    if revision.article_id != article.pk:
        raise ValidationError(_("La revisión no pertenece a este artículo."))
    category = Category.objects.filter(name=revision.category_name).first() if revision.category_name else None
    return update_article(
        article=article,
        actor=actor,
        title=revision.title,
        summary=revision.summary,
        body=revision.body,
        tags=revision.tags,
        category=category if category is not None else article.category,
        note=stored("Restaurada la revisión %(n)s", n=revision.number),
    )


@transaction.atomic
def mark_reviewed(*, article: Article, actor: User) -> Article:
    """An owner confirmed the article is still right: schedule the next review."""
    _require_agent(actor)
    article = Article.objects.select_for_update().get(pk=article.pk)
    article.next_review_at = article.compute_next_review()
    article.review_notified_for = None
    article.save(update_fields=["next_review_at", "review_notified_for", "updated_at"])
    _revision(article, actor, note=stored("Revisado"))
    return article


def record_view(*, article: Article, user: User) -> bool:
    """Count a view once per user and day; True when this one counted. No index work."""
    if not user.is_authenticated:
        return False
    try:
        with transaction.atomic():
            _, created = ArticleView.objects.get_or_create(article=article, user=user, day=timezone.localdate())
            if created:
                Article.objects.filter(pk=article.pk).update(views_count=F("views_count") + 1)
    except IntegrityError:  # a concurrent request counted it
        return False
    return created


@transaction.atomic
def submit_feedback(*, article: Article, user: User, helpful: bool, comment: str = "") -> ArticleFeedback:
    """One vote per user and article; a second vote is refused and changes nothing."""
    repeat = ValidationError(_("Ya has valorado este artículo."))
    if ArticleFeedback.objects.filter(article=article, user=user).exists():
        raise repeat
    try:
        with transaction.atomic():  # a savepoint: a concurrent duplicate vote is a repeat, not a 500
            feedback = ArticleFeedback.objects.create(
                article=article, user=user, helpful=bool(helpful), comment=" ".join((comment or "").split())[:1000]
            )
    except IntegrityError as exc:
        raise repeat from exc
    counter = "helpful_count" if helpful else "not_helpful_count"
    Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return feedback


def record_deflection_candidate(*, article: Article, user: User) -> Deflection | None:
    """A franchisee opened a suggested article from the ticket form (once per user, article, day)."""
    if not is_franchisee(user) or article.status != Article.Status.PUBLISHED:
        return None
    deflection, _created = Deflection.objects.get_or_create(article=article, user=user, day=timezone.localdate())
    return deflection


def _get_or_default_category(name: str, name_en: str = "") -> Category | None:
    """The category of that (Spanish) name, created if needed; `name_en` fills its English name."""
    name = " ".join((name or "").split())[:120]
    name_en = " ".join((name_en or "").split())[:120]
    if not name:
        return None
    category = Category.objects.filter(name__iexact=name).first()
    if category is None:
        base = slugify(name)[:100] or "categoria"
        slug, n = base, 2
        while Category.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        category = Category.objects.create(name=name, name_en=name_en, slug=slug)
    elif name_en and category.name_en != name_en:
        category.name_en = name_en
        category.save(update_fields=["name_en"])
    return category


@transaction.atomic
def import_article(data: dict, *, actor: User | None = None, owner: User | None = None) -> tuple[Article, bool]:
    """Create or update one article from an import record (idempotent by slug); (article, created).

    `owner` is set on new articles only: an owner chosen later by an agent is kept.
    """
    slug = slugify(str(data.get("slug") or data.get("title") or ""))[:TITLE_MAX]
    if not slug:
        raise ValidationError(_("Cada artículo necesita un slug o un título."))
    tags = data.get("tags") or []
    fields = {
        "title": data.get("title") or slug,
        "body": data.get("body") or "",
        "summary": data.get("summary") or "",
        "tags": tags if isinstance(tags, str) else ", ".join(str(t) for t in tags),
        "language": data.get("language") if data.get("language") in Article.Language.values else "es",
        "category": _get_or_default_category(str(data.get("category") or ""), str(data.get("category_en") or "")),
    }
    status = data.get("status") or Article.Status.PUBLISHED
    # `translation_of`: the slug of the article this one translates (linked when it exists already).
    original = slugify(str(data.get("translation_of") or ""))
    translation = Article.objects.filter(slug=original).first() if original else None
    links = {"translation": translation} if translation is not None and translation.slug != slug else {}
    existing = Article.objects.filter(slug=slug).first()
    if existing is None:
        return create_article(actor=actor, slug=slug, status=status, owner=owner, **fields, **links), True
    return (
        update_article(article=existing, actor=actor, status=status, note=stored("Importado"), **fields, **links),
        False,
    )


def _draft_from(*, actor: User, title: str, solution: str, context: str, **links) -> Article:
    _require_agent(actor)
    body = "\n\n".join(
        part
        for part in [
            "## " + _("Problema"),
            context.strip() or title,
            "## " + _("Solución"),
            solution.strip() or _("_Describe aquí los pasos que resolvieron el problema._"),
        ]
        if part
    )
    return create_article(
        actor=actor,
        title=title,
        body=body[:BODY_MAX],
        summary=" ".join(context.split())[:200],
        status=Article.Status.DRAFT,
        **links,
    )


def draft_article_from_ticket(*, ticket, actor: User) -> Article:
    """A draft article prefilled from a resolved ticket (subject, description, last public answer)."""
    _require_agent(actor)
    answer = (
        ticket.comments.filter(internal=False, author__role__in=("agent", "supervisor"))
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)
        .first()
    )
    return _draft_from(
        actor=actor,
        title=ticket.subject,
        solution=answer or "",
        context=ticket.description or "",
        source_ticket=ticket,
        category=None,
    )


def draft_article_from_conversation(*, conversation, actor: User) -> Article:
    """A draft article prefilled from a chat: its topic and what the agents answered."""
    _require_agent(actor)
    agent_lines = list(
        conversation.messages.filter(kind="user", author__role__in=("agent", "supervisor"))
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )
    question = (
        conversation.messages.filter(kind="user", author__role="franchisee")
        .order_by("created_at", "id")
        .values_list("body", flat=True)
        .first()
    )
    return _draft_from(
        actor=actor,
        title=conversation.topic,
        solution="\n\n".join(agent_lines),
        context=question or conversation.topic,
        source_conversation=conversation,
        category=None,
    )


def notify_review_due(article: Article) -> bool:
    """Remind the owner (or author) of a stale article once per due date; True if sent now."""
    if article.review_notified_for == article.next_review_at:
        return False
    recipient = article.owner or article.author
    updated = Article.objects.filter(pk=article.pk).exclude(review_notified_for=article.next_review_at)
    if not updated.update(review_notified_for=article.next_review_at):
        return False
    if recipient is not None:
        notify(
            recipient=recipient,
            kind=ARTICLE_REVIEW_DUE,
            title=stored("Artículo pendiente de revisión: %(title)s", title=article.title),
            body=stored("Revisión prevista el %(date)s.", date=when(article.next_review_at)),
            url=article.get_edit_url(),
            target=article,
        )
    return True


# --- Learning from use: the search log ------------------------------------------------

#: Keystrokes of one suggest-as-you-type burst update one log row rather than add rows.
SEARCH_BURST = timedelta(minutes=2)


def log_search(*, user: User, query: str, slugs: list[str], total: int, source: str) -> SearchLog | None:
    """Record a franchisee's search and what it showed (agents' own searches are not logged)."""
    from knowledge_base.analysis import normalized_query

    query = query.replace("\x00", "")  # PostgreSQL text cannot hold NUL (a fuzzed ?q= has them)
    normalized = normalized_query(query)
    if not is_franchisee(user) or len(normalized) < 3:
        return None
    now = timezone.now()
    fields = {"query": query[:200], "normalized": normalized, "shown": slugs[:10], "result_count": total,
              "updated_at": now}  # fmt: skip
    last = (
        SearchLog.objects.filter(user=user, source=source, clicked__isnull=True, updated_at__gte=now - SEARCH_BURST)
        .order_by("-updated_at")
        .first()
    )
    if last is not None and (normalized.startswith(last.normalized) or last.normalized.startswith(normalized)):
        for name, value in fields.items():
            setattr(last, name, value)
        last.save(update_fields=list(fields))
        return last
    return SearchLog.objects.create(user=user, franchise_id=user.franchise_id, source=source, created_at=now, **fields)


def record_search_click(*, user: User, article: Article) -> SearchLog | None:
    """Attribute an opened article to the user's latest recent search that showed it."""
    if not is_franchisee(user):
        return None
    recent = SearchLog.objects.filter(
        user=user, clicked__isnull=True, updated_at__gte=timezone.now() - SEARCH_CLICK_WINDOW
    ).order_by("-updated_at")[:5]
    for log in recent:
        if article.slug in log.shown:
            log.clicked = article
            log.clicked_rank = log.shown.index(article.slug) + 1
            log.save(update_fields=["clicked", "clicked_rank"])
            return log
    return None


def draft_article_for_query(*, actor: User, query: str) -> Article:
    """One click on the content-gaps page: a draft titled after a query nobody found an answer to."""
    _require_agent(actor)
    title = " ".join(query.split())[:TITLE_MAX].strip() or _("Artículo nuevo")
    body = _("Borrador creado desde «Huecos de contenido»: los franquiciados buscaron «%(query)s» sin encontrar "
             "respuesta.\n\n## Solución\n\n1. …") % {"query": title}  # fmt: skip
    return create_article(actor=actor, title=title[:1].upper() + title[1:], body=body, status=Article.Status.DRAFT)


def send_content_gaps_digest(*, days: int = 7) -> int:
    """Tell every KB owner (agents owning a published article) about last week's content gaps.

    Sent as an "article review due" notification (staff only, same preference) to the bell.
    """
    from accounts.models import User as UserModel
    from knowledge_base.selectors import content_gaps

    gaps = content_gaps(days=days, limit=5)
    if not (gaps["no_click"] or gaps["followed_by_ticket"] or gaps["never_clicked"]):
        return 0
    top = ", ".join(f"«{row['query']}» ({row['count']})" for row in gaps["no_click"][:5])
    body = stored(
        "%(searches)s búsquedas; sin clic: %(top)s. %(tickets)s consultas acabaron en ticket.",
        searches=gaps["totals"]["searches"], top=top or "—", tickets=len(gaps["followed_by_ticket"]),
    )  # fmt: skip
    owners = UserModel.objects.filter(owned_articles__status=Article.Status.PUBLISHED, is_active=True).distinct()
    sent = 0
    for owner in owners:
        if notify(recipient=owner, kind=ARTICLE_REVIEW_DUE, title=stored("Huecos de contenido de la semana"), body=body,
                  url=reverse("knowledge_base:gaps"), internal=True):  # fmt: skip
            sent += 1
    return sent
