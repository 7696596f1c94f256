"""Admin for agents: edits go through the services so revisions and index updates happen."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from accounts.admin_permissions import ReadOnlyAdminMixin
from knowledge_base import services, synonyms
from knowledge_base.forms import TranslatedArticleForm
from knowledge_base.models import Article, ArticleFeedback, ArticleRevision, Category, SynonymGroup

SERVICE_FIELDS = (
    "title", "summary", "body", "category", "tags", "language", "owner", "review_interval_days", "translation",
)  # fmt: skip


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "slug", "position")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "name_en")


class RevisionInline(admin.TabularInline):
    model = ArticleRevision
    fields = ("number", "created_at", "editor", "status", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ArticleAdminForm(TranslatedArticleForm):
    class Meta:
        model = Article
        fields = "__all__"


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    list_display = (
        "title",
        "category",
        "language",
        "translation_link",
        "status",
        "owner",
        "next_review_at",
        "views_count",
        "helpful_count",
        "not_helpful_count",
    )
    list_filter = ("status", "language", "category")
    search_fields = ("title", "slug", "tags")
    list_select_related = ("category", "owner")
    autocomplete_fields = ()
    raw_id_fields = ("author", "owner", "source_ticket", "source_conversation")
    readonly_fields = ("published_at", "views_count", "helpful_count", "not_helpful_count", "created_at", "updated_at")
    inlines = [RevisionInline]
    actions = ["publish", "archive"]

    def get_queryset(self, request):
        # the translation column in the same query as the list (one subquery per column, no N+1)
        other = Article.objects.filter(translation_group=OuterRef("translation_group")).exclude(pk=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                translation_title=Subquery(other.values("title")[:1]),
                translation_language=Subquery(other.values("language")[:1]),
            )
        )

    @admin.display(description=_("Traducción"))
    def translation_link(self, obj: Article) -> str:
        title = getattr(obj, "translation_title", None)
        return f"{title} ({obj.translation_language})" if title else "—"

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in SERVICE_FIELDS if name in form.cleaned_data}
        status = form.cleaned_data.get("status", obj.status)
        if change:
            saved = services.update_article(article=obj, actor=request.user, status=status, note=_("Admin"), **fields)
        else:
            fields["slug"] = form.cleaned_data.get("slug") or None
            saved = services.create_article(actor=request.user, status=status, **fields)
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.delete_article(article=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for article in queryset:
            services.delete_article(article=article, actor=request.user)

    @admin.action(description=_("Publicar los artículos seleccionados"))
    def publish(self, request, queryset) -> None:
        for article in queryset:
            services.publish_article(article=article, actor=request.user)
        messages.success(request, _("Artículos publicados."))

    @admin.action(description=_("Archivar los artículos seleccionados"))
    def archive(self, request, queryset) -> None:
        for article in queryset:
            services.archive_article(article=article, actor=request.user)
        messages.success(request, _("Artículos archivados."))


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Votes are the readers' (their counts live on the article): nobody edits them here."""

    list_display = ("article", "user", "helpful", "created_at")
    list_filter = ("helpful",)
    list_select_related = ("article", "user")
    readonly_fields = ("article", "user", "helpful", "comment", "created_at")


@admin.register(SynonymGroup)
class SynonymGroupAdmin(admin.ModelAdmin):
    """Agents keep the synonym list here; search picks changes up within a second."""

    list_display = ("terms", "active", "source", "updated_at")
    list_editable = ("active",)
    list_filter = ("active", "source")
    search_fields = ("terms", "note")
    fields = ("terms", "active", "source", "note")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        synonyms.invalidate()  # this process at once; the others within a second
