"""JSON shapes of the API (also the webhook payloads). Writes are validated again by the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.access import is_agent
from accounts.models import Franchise, User
from chat.models import Conversation
from knowledge_base.models import Article
from tickets import custom_fields
from tickets.models import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    SUBJECT_MAX,
    TAG_MAX,
    TAGS_PER_TICKET,
    TIME_SPENT_MAX,
    Category,
    Comment,
    Priority,
    Status,
    Ticket,
    TicketLink,
)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    role = serializers.CharField()


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CategoryNameRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name", help_text="In the reader's language.")


class TagNamesField(serializers.ListField):
    """A ticket's tag names, sorted (read from the prefetched `tags`)."""

    def get_attribute(self, ticket: Ticket) -> list[str]:
        return sorted(tag.name for tag in ticket.tags.all())


class TicketListSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    franchise = NamedRefSerializer(read_only=True)
    category = CategoryNameRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    # Not read-only in form, so the schema marks it optional: franchisees' payloads leave it out.
    tags = TagNamesField(
        child=serializers.CharField(), required=False, help_text="Agents' labels; only shown to agents."
    )

    class Meta:
        model = Ticket
        fields = [
            "id", "number", "subject", "status", "priority", "category", "franchise", "assignee", "source",
            "sla_state", "created_at", "updated_at", "resolution_due", "tags", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not is_agent(request.user):
            data.pop("tags", None)  # tags are agents' labels (webhook payloads, with no request, keep them)
        return data


class TicketSerializer(TicketListSerializer):
    requester = UserRefSerializer(read_only=True, allow_null=True)
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    custom_fields = serializers.SerializerMethodField(
        help_text="The category's custom fields: key → value (number, ISO date, text or null)."
    )

    class Meta(TicketListSerializer.Meta):
        fields = [
            *TicketListSerializer.Meta.fields, "description", "requester", "first_response_due",
            "first_response_at", "resolved_at", "closed_at", "merged_into", "rating", "custom_fields",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_custom_fields(self, ticket: Ticket) -> dict:
        return {shown.field.key: shown.json for shown in custom_fields.values_of(ticket)}


class TicketCreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=SUBJECT_MAX)
    description = serializers.CharField(max_length=DESCRIPTION_MAX)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(active=True), required=False, allow_null=True
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    franchise = serializers.PrimaryKeyRelatedField(
        queryset=Franchise.objects.filter(active=True),
        required=False,
        allow_null=True,
        help_text="Agents only (required for them); a franchisee's ticket is always in their franchise.",
    )
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role=User.Role.FRANCHISEE, is_active=True),
        required=False,
        allow_null=True,
        help_text="Agents only: the franchisee the ticket is opened for.",
    )
    custom_fields = serializers.DictField(
        required=False, help_text="The category's custom fields, key → value; required ones must be given."
    )


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="An agent's id; null puts the ticket back in the queue."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX),
        required=False,
        max_length=TAGS_PER_TICKET,
        help_text="The ticket's whole set of tags (replaces it); names are lowercased into slugs.",
    )
    custom_fields = serializers.DictField(
        required=False, help_text="Custom fields to change, key → value (null or empty clears an optional one)."
    )


class CommentSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True, allow_null=True)
    ticket = serializers.PrimaryKeyRelatedField(read_only=True)
    # The portal's own comments (a merge) are stored texts: rendered in the reader's language.
    body = serializers.CharField(source="shown_body", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "ticket", "author", "body", "internal", "time_spent_minutes", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance: Comment) -> dict:
        """Agents' recorded minutes are theirs: null for a franchisee (as on the ticket page)."""
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not is_agent(request.user):
            data["time_spent_minutes"] = None
        return data


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=COMMENT_MAX)
    internal = serializers.BooleanField(
        required=False, default=False, help_text="Agents only: an internal note. Ignored for franchisees."
    )
    time_spent_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=TIME_SPENT_MAX,
        help_text="Agents only: minutes spent on this reply, added to the ticket's total.",
    )


class FollowerCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(
        min_value=1,
        help_text="The id of the person to add: a franchisee of the ticket's franchise (requester and agents) "
        "or an agent or supervisor (agents only).",
    )


class LinkedTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    url = serializers.CharField(source="get_absolute_url")


class TicketLinkSerializer(serializers.Serializer):
    """One link read from the ticket's side ("blocked_by": the other ticket blocks this one)."""

    id = serializers.IntegerField(source="link.id")
    relation = serializers.ChoiceField(choices=list(TicketLink.RELATIONS))
    label = serializers.CharField(help_text="The relation in the reader's language, e.g. “Bloqueado por”.")
    ticket = LinkedTicketSerializer(source="other")
    created_at = serializers.DateTimeField(source="link.created_at")


class TicketLinkCreateSerializer(serializers.Serializer):
    relation = serializers.ChoiceField(
        choices=list(TicketLink.RELATIONS),
        help_text="This ticket duplicates / is duplicated by / blocks / is blocked by / is related to the other one.",
    )
    other = serializers.IntegerField(min_value=1, help_text="The other ticket's id.")


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField(source="display_name", help_text="In the reader's language.")


class ArticleListSerializer(serializers.ModelSerializer):
    category = CategoryRefSerializer(read_only=True, allow_null=True)
    tags = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "summary", "category", "tags", "language", "status", "updated_at", "url"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, article: Article) -> list[str]:
        return list(article.tag_list)


class ArticleSerializer(ArticleListSerializer):
    class Meta(ArticleListSerializer.Meta):
        fields = [*ArticleListSerializer.Meta.fields, "body", "published_at"]
        read_only_fields = fields


class SearchHitSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    snippet = serializers.CharField(help_text="Escaped text with <mark> around the matched words.")
    score = serializers.FloatField()


class SearchResponseSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True)
    suggestion = serializers.CharField(allow_null=True)


class ConversationSerializer(serializers.ModelSerializer):
    franchise = NamedRefSerializer(read_only=True)
    franchisee = UserRefSerializer(read_only=True)
    agent = UserRefSerializer(read_only=True, allow_null=True)
    ticket = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "status", "topic", "franchise", "franchisee", "agent", "created_at", "accepted_at",
            "closed_at", "last_activity_at", "ticket", "resolved_in_chat", "url",
        ]  # fmt: skip
        read_only_fields = fields
