"""Haystack index of articles. Updates go through knowledge_base.tasks, never through signals."""

from __future__ import annotations

from haystack import indexes

from knowledge_base.models import UNCATEGORIZED, Article
from knowledge_base.rendering import markdown_to_text

#: Statuses kept in the index: agents search drafts too; archived articles are removed.
INDEXED_STATUSES = (Article.Status.DRAFT, Article.Status.IN_REVIEW, Article.Status.PUBLISHED)


class ArticleIndex(indexes.SearchIndex, indexes.Indexable):
    text = indexes.CharField(document=True)
    title = indexes.CharField(model_attr="title", boost=1.0)
    tags = indexes.CharField()
    summary = indexes.CharField()
    spell = indexes.CharField(stored=False)
    slug = indexes.CharField(model_attr="slug", indexed=True)
    status = indexes.CharField(model_attr="status")
    language = indexes.CharField(model_attr="language")
    category_slug = indexes.CharField()
    category_name = indexes.CharField(indexed=False)
    translation_group = indexes.CharField(indexed=False)  # stored: search shows one article of a pair

    def get_model(self):
        return Article

    def index_queryset(self, using=None):
        return Article.objects.filter(status__in=INDEXED_STATUSES).select_related("category")

    def should_update(self, instance, **kwargs) -> bool:
        return instance.status in INDEXED_STATUSES

    def prepare(self, obj: Article) -> dict:
        obj._kb_plain_body = markdown_to_text(obj.body)  # rendered once, used by two fields
        return super().prepare(obj)

    def prepare_text(self, obj: Article) -> str:
        return getattr(obj, "_kb_plain_body", None) or markdown_to_text(obj.body)

    def prepare_tags(self, obj: Article) -> str:
        return ", ".join(obj.tag_list)

    def prepare_summary(self, obj: Article) -> str:
        return obj.summary

    def prepare_spell(self, obj: Article) -> str:
        # Only published words feed "did you mean", so a suggestion never reveals a draft.
        if obj.status != Article.Status.PUBLISHED:
            return ""
        return " ".join([obj.title, " ".join(obj.tag_list), obj.summary, self.prepare_text(obj)])

    def prepare_category_slug(self, obj: Article) -> str:
        return obj.category.slug if obj.category_id else UNCATEGORIZED

    def prepare_category_name(self, obj: Article) -> str:
        return obj.category.name if obj.category_id else ""

    def prepare_translation_group(self, obj: Article) -> str:
        return str(obj.translation_group) if obj.translation_group else ""
