"""Knowledge base data: categories, articles, their revisions, feedback, views and deflections."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from support_portal.stored_text import render

TITLE_MAX = 200
SUMMARY_MAX = 500
BODY_MAX = 50_000
TAGS_MAX = 300
COMMENT_MAX = 1_000
DEFAULT_REVIEW_DAYS = 180


# Facet value of articles without a category (index field and search facets).
UNCATEGORIZED = "sin-categoria"


class Category(models.Model):
    name = models.CharField(_("nombre"), max_length=120, unique=True)
    # Shown to English readers (empty: the Spanish name); `display_name` picks it per reader.
    name_en = models.CharField(_("nombre en inglés"), max_length=120, blank=True)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.CharField(_("descripción"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(_("orden"), default=100)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("categoría")
        verbose_name_plural = _("categorías")

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return f"{reverse('knowledge_base:search')}?category={self.slug}"

    @property
    def display_name(self) -> str:
        """The name in the active language (the Spanish one when there is no English name)."""
        return display_name(self.name, self.name_en)


def reader_language(language: str | None = None) -> str:
    """The reader's language code ("es", "en"): `language`, else the active one."""
    return (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()


def display_name(name: str, name_en: str) -> str:
    """Of a category's two names, the one for the active language (values read with .values())."""
    english = (translation.get_language() or "").startswith("en")
    return name_en if english and name_en else name


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Borrador")
        IN_REVIEW = "in_review", _("En revisión")
        PUBLISHED = "published", _("Publicado")
        ARCHIVED = "archived", _("Archivado")

    class Language(models.TextChoices):
        ES = "es", _("Español")
        EN = "en", _("Inglés")

    title = models.CharField(_("título"), max_length=TITLE_MAX)
    slug = models.SlugField(_("slug"), max_length=TITLE_MAX, unique=True)
    summary = models.CharField(_("resumen"), max_length=SUMMARY_MAX, blank=True)
    body = models.TextField(_("contenido (Markdown)"), max_length=BODY_MAX)
    category = models.ForeignKey(
        Category, verbose_name=_("categoría"), on_delete=models.PROTECT, null=True, blank=True, related_name="articles"
    )
    tags = models.CharField(_("etiquetas"), max_length=TAGS_MAX, blank=True, help_text=_("Separadas por comas."))
    language = models.CharField(_("idioma"), max_length=2, choices=Language.choices, default=Language.ES)
    # Articles that are translations of each other share a group, at most one per language
    # (services.set_translation keeps it; null: no translation).
    translation_group = models.UUIDField(_("grupo de traducciones"), null=True, blank=True, editable=False)
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_articles",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsable"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_articles",
        help_text=_("Quien mantiene el artículo al día y recibe los avisos de revisión."),
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)
    published_at = models.DateTimeField(_("publicado"), null=True, blank=True)
    review_interval_days = models.PositiveSmallIntegerField(
        _("revisar cada (días)"),
        default=DEFAULT_REVIEW_DAYS,
        validators=[MinValueValidator(7), MaxValueValidator(730)],
    )
    next_review_at = models.DateField(_("próxima revisión"), null=True, blank=True)
    review_notified_for = models.DateField(null=True, blank=True, editable=False)
    views_count = models.PositiveIntegerField(_("visitas"), default=0, editable=False)
    helpful_count = models.PositiveIntegerField(_("útil"), default=0, editable=False)
    not_helpful_count = models.PositiveIntegerField(_("no útil"), default=0, editable=False)
    source_ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket de origen"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_articles",
    )
    source_conversation = models.ForeignKey(
        "chat.Conversation",
        verbose_name=_("chat de origen"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_articles",
    )
    source_notified = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["title"]
        verbose_name = _("artículo")
        verbose_name_plural = _("artículos")
        indexes = [
            models.Index(fields=["status", "category", "title"], name="kb_article_status_cat"),
            models.Index(fields=["status", "next_review_at"], name="kb_article_review"),
            models.Index(fields=["status", "-updated_at"], name="kb_article_recent"),
            models.Index(fields=["owner", "status"], name="kb_article_owner"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["translation_group", "language"], name="kb_one_translation_per_language"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledge_base:article", kwargs={"slug": self.slug})

    def get_edit_url(self) -> str:
        return reverse("knowledge_base:edit", kwargs={"slug": self.slug})

    def translations(self) -> models.QuerySet[Article]:
        """The other articles of its translation group (any status: callers scope them)."""
        if self.translation_group is None:
            return Article.objects.none()
        return Article.objects.filter(translation_group=self.translation_group).exclude(pk=self.pk)

    @property
    def tag_list(self) -> list[str]:
        return split_tags(self.tags)

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def is_stale(self) -> bool:
        return self.is_published and self.next_review_at is not None and self.next_review_at <= timezone.localdate()

    def compute_next_review(self, today: date | None = None) -> date:
        return (today or timezone.localdate()) + timedelta(days=self.review_interval_days)


def split_tags(value: str) -> list[str]:
    """Comma-separated tags, trimmed, without empties or duplicates (order kept)."""
    seen: dict[str, None] = {}
    for part in (value or "").split(","):
        tag = " ".join(part.split())[:60]
        if tag and tag.lower() not in {t.lower() for t in seen}:
            seen[tag] = None
    return list(seen)


class ArticleRevision(models.Model):
    """A snapshot of an article after every saved change."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("número"))
    title = models.CharField(_("título"), max_length=TITLE_MAX)
    summary = models.CharField(_("resumen"), max_length=SUMMARY_MAX, blank=True)
    body = models.TextField(_("contenido"), max_length=BODY_MAX)
    tags = models.CharField(_("etiquetas"), max_length=TAGS_MAX, blank=True)
    category_name = models.CharField(_("categoría"), max_length=120, blank=True)
    status = models.CharField(_("estado"), max_length=10, choices=Article.Status.choices)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("editor"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.CharField(_("nota"), max_length=200, blank=True)
    # The portal's own notes ("Creado", "Restaurada la revisión 3"): a stored text rendered in the
    # reader's language (support_portal.stored_text); `note` keeps the portal-language rendering.
    note_text = models.JSONField(_("nota (texto guardado)"), default=dict, blank=True)
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("revisión")
        verbose_name_plural = _("revisiones")
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="kb_revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.article_id} r{self.number}"

    @property
    def shown_note(self) -> str:
        return render(self.note_text) if self.note_text else self.note


class ArticleFeedback(models.Model):
    """One "was this helpful?" vote per user and article."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kb_feedback")
    helpful = models.BooleanField(_("útil"))
    comment = models.CharField(_("comentario"), max_length=COMMENT_MAX, blank=True)
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("valoración")
        verbose_name_plural = _("valoraciones")
        constraints = [models.UniqueConstraint(fields=["article", "user"], name="kb_feedback_once_per_user")]

    def __str__(self) -> str:
        return f"{self.article_id}/{self.user_id}: {'+' if self.helpful else '-'}"


class ArticleView(models.Model):
    """One row per user, article and day: views are counted once per user per day."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="view_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "user", "day"], name="kb_view_once_per_day")]

    def __str__(self) -> str:
        return f"{self.article_id}/{self.user_id} {self.day}"


class Deflection(models.Model):
    """A franchisee opened a suggested article from the ticket form.

    It counts as a deflection once DEFLECTION_WINDOW has passed without that user creating a
    ticket (see selectors.deflection_counts): the article answered the question.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="deflections")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "user", "day"], name="kb_deflection_once_per_day")]
        indexes = [models.Index(fields=["article", "created_at"], name="kb_deflection_article")]

    def __str__(self) -> str:
        return f"{self.article_id}/{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"


DEFLECTION_WINDOW = timedelta(minutes=30)
PUBLISHED = Q(status=Article.Status.PUBLISHED)


class ArticleVector(models.Model):
    """The dense embedding of an article (see knowledge_base/dense.py), computed in Celery.

    `content_hash` is the hash of the embedded text and the model name: an unchanged article is
    never embedded again, and a backfill can stop and resume at any point.
    """

    article = models.OneToOneField(Article, on_delete=models.CASCADE, primary_key=True, related_name="vector")
    model_name = models.CharField(max_length=80)
    content_hash = models.CharField(max_length=64)
    dimensions = models.PositiveSmallIntegerField()
    vector = models.BinaryField()  # float32, little-endian, L2-normalised
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("vector de artículo")
        verbose_name_plural = _("vectores de artículos")

    def __str__(self) -> str:
        return f"{self.article_id} ({self.model_name})"


class SynonymGroup(models.Model):
    """Words people use for the same thing; search also looks for a query word's group mates.

    Members match whole words only (accent-folded, plural-insensitive), never the stem of other
    words: `recibo` finds `recibos`, not `recibido`. Edited by agents in the admin.
    """

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        KNOWLEDGE_BASE = "kb", _("Propuesto desde la base de conocimiento")

    terms = models.TextField(_("términos"), help_text=_("Separados por comas; pueden ser de varias palabras."))
    active = models.BooleanField(_("activo"), default=True)
    source = models.CharField(_("origen"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    note = models.CharField(_("nota"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["terms"]
        verbose_name = _("grupo de sinónimos")
        verbose_name_plural = _("grupos de sinónimos")

    def __str__(self) -> str:
        return self.terms[:80]

    @property
    def term_list(self) -> list[str]:
        return split_terms(self.terms)


def split_terms(value: str) -> list[str]:
    """Comma-separated synonym terms, trimmed and lowercased, without empties or duplicates."""
    return list(dict.fromkeys(" ".join(part.split()).lower()[:60] for part in (value or "").split(",") if part.strip()))


class SearchLog(models.Model):
    """One search a user made (a suggest-as-you-type burst counts once), and what followed.

    Clicks are attributed server-side (an article opened within SEARCH_CLICK_WINDOW of a search
    that showed it); helpful votes, deflections and tickets opened within DEFLECTION_WINDOW are
    read from their own tables when aggregating (selectors.content_gaps). `user` is kept for that
    attribution only: aggregates and the content-gaps page show queries and counts, never users.
    """

    class Source(models.TextChoices):
        SUGGEST = "suggest", _("Sugerencias")
        SEARCH = "search", _("Búsqueda")

    franchise = models.ForeignKey(
        "accounts.Franchise", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    query = models.CharField(_("consulta"), max_length=200)
    normalized = models.CharField(max_length=200, db_index=True)
    shown = models.JSONField(default=list)  # slugs shown, best first (top 10)
    result_count = models.PositiveIntegerField(default=0)
    clicked = models.ForeignKey(Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    clicked_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("búsqueda")
        verbose_name_plural = _("búsquedas")
        indexes = [
            models.Index(fields=["franchise", "created_at"], name="kb_searchlog_franchise"),
            models.Index(fields=["user", "-updated_at"], name="kb_searchlog_user"),
        ]

    def __str__(self) -> str:
        return self.query[:60]


SEARCH_CLICK_WINDOW = timedelta(minutes=30)
