"""The JSON API (/api/v1/): thin views over the same selectors and services as the pages."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import is_agent, is_franchisee
from accounts.models import User
from api import serializers as s
from chat import selectors as chat_selectors
from chat.models import Conversation
from knowledge_base import selectors as kb_selectors
from knowledge_base.search import search_articles
from support_portal.stored_text import language_of
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.models import Status, Ticket, TicketLink


class ReaderLanguageMixin:
    """Answers in the caller's language, as the pages: the language cookie or `Accept-Language`
    (LocaleMiddleware already chose from them), else the user's `preferred_language` (a token
    client that says nothing). Stored texts (support_portal.stored_text), choice labels,
    category names and error messages follow it; `Content-Language` says which one it was."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        user = request.user  # authenticates (token or session) before the language is chosen
        asked = settings.LANGUAGE_COOKIE_NAME in request.COOKIES or "HTTP_ACCEPT_LANGUAGE" in request.META
        if not asked and user is not None and user.is_authenticated:
            translation.activate(language_of(user))
            request.LANGUAGE_CODE = translation.get_language()
        super().initial(request, *args, **kwargs)


SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,120}")
STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values, description="Only this status.")
Q_PARAM = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Words in the subject, description, comments or file names, or a number; ranked."
)


class TicketListView(ReaderLanguageMixin, generics.ListAPIView):
    """Tickets the user may see (their franchise's; all of them for agents), newest first."""

    serializer_class = s.TicketListSerializer

    def get_queryset(self):
        get = self.request.query_params
        return ticket_selectors.franchise_tickets(self.request.user, status=get.get("status", ""), q=get.get("q", ""))

    @extend_schema(parameters=[STATUS_PARAM, Q_PARAM])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.TicketCreateSerializer, responses={201: s.TicketSerializer})
    def post(self, request: Request) -> Response:
        """Open a ticket, exactly as the /tickets/new/ form does (tickets.services.create_ticket)."""
        if not (is_franchisee(request.user) or is_agent(request.user)):
            raise PermissionDenied
        form = s.TicketCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        agent = is_agent(request.user)
        ticket = ticket_services.create_ticket(
            actor=request.user,
            subject=data["subject"],
            description=data["description"],
            franchise=data.get("franchise") if agent else None,
            requester=data.get("requester") if agent else None,
            category=data.get("category"),
            priority=data.get("priority") or "normal",
            custom_values=data.get("custom_fields") or {},
        )
        ticket = ticket_selectors.ticket_for(request.user, ticket.pk)
        return Response(s.TicketSerializer(ticket, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _visible_ticket(request: Request, pk: int) -> Ticket:
    return ticket_selectors.ticket_for(request.user, pk)


class TicketDetailView(ReaderLanguageMixin, APIView):
    serializer_class = s.TicketSerializer

    @extend_schema(responses=s.TicketSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.TicketSerializer(_visible_ticket(request, pk), context={"request": request}).data)

    @extend_schema(request=s.TicketUpdateSerializer, responses=s.TicketSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Agents: status, priority, assignee, tags, custom_fields — the services of the ticket page's buttons."""
        ticket = _visible_ticket(request, pk)
        if not is_agent(request.user):
            raise PermissionDenied
        form = s.TicketUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actor = request.user
        with transaction.atomic():  # all the changes or none (each service refuses with TicketError)
            if "assignee" in data:
                ticket = _change_assignee(ticket, actor, data["assignee"])
            if "priority" in data:
                ticket = ticket_services.change_priority(ticket=ticket, actor=actor, priority=data["priority"])
            if "status" in data and data["status"] != ticket.status:
                ticket = ticket_services.change_status(ticket=ticket, actor=actor, status=data["status"])
            if "tags" in data:
                ticket = ticket_services.set_tags(ticket=ticket, actor=actor, tags=data["tags"])
            if "custom_fields" in data:
                values = {k: "" if v is None else v for k, v in data["custom_fields"].items()}
                ticket = ticket_services.set_custom_values(ticket=ticket, actor=actor, values=values)
        return Response(s.TicketSerializer(_visible_ticket(request, pk), context={"request": request}).data)


def _change_assignee(ticket: Ticket, actor: User, assignee_id: int | None) -> Ticket:
    """null → unassign; yourself on an unassigned ticket → claim (as the "take" button); else assign."""
    if assignee_id is None:
        return ticket_services.unassign(ticket=ticket, actor=actor)
    if assignee_id == actor.pk and ticket.assignee_id is None:
        return ticket_services.claim(ticket=ticket, actor=actor)
    assignee = User.objects.filter(pk=assignee_id).first()
    if assignee is None:
        raise ticket_services.TicketError(_("Solo se puede asignar a un agente activo."))
    return ticket_services.assign(ticket=ticket, actor=actor, assignee=assignee)


class TicketCommentsView(ReaderLanguageMixin, generics.ListAPIView):
    """Comments of a visible ticket; internal notes only for agents."""

    serializer_class = s.CommentSerializer

    def get_queryset(self):
        ticket = _visible_ticket(self.request, self.kwargs["pk"])
        return ticket_selectors.comments_for(ticket, self.request.user)

    @extend_schema(request=s.CommentCreateSerializer, responses={201: s.CommentSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Reply (or, for agents, add an internal note) as the ticket page's comment form does."""
        ticket = _visible_ticket(request, pk)
        form = s.CommentCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        comment = ticket_services.add_comment(
            ticket=ticket,
            actor=request.user,
            body=form.validated_data["body"],
            internal=form.validated_data.get("internal", False) and is_agent(request.user),
            time_spent_minutes=form.validated_data.get("time_spent_minutes"),
        )
        return Response(s.CommentSerializer(comment, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TicketFollowersView(ReaderLanguageMixin, generics.ListAPIView):
    """Who follows a visible ticket (they get its public updates), by name."""

    serializer_class = s.UserRefSerializer

    def get_queryset(self):
        return ticket_selectors.followers(_visible_ticket(self.request, self.kwargs["pk"]))

    @extend_schema(request=s.FollowerCreateSerializer, responses={201: s.UserRefSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Add a follower, as the ticket page does: the requester and agents add colleagues of the
        ticket's franchise, agents also add support staff (201 also when they already followed it)."""
        ticket = _visible_ticket(request, pk)
        if not ticket_services.can_add_followers(ticket, request.user):
            raise PermissionDenied
        form = s.FollowerCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        candidates = ticket_services.follower_candidates(ticket, request.user, include_followers=True)
        follower = candidates.filter(pk=form.validated_data["user"]).first()
        if follower is None:  # unknown, inactive, another franchise's or (for a franchisee) staff: the same answer
            raise ValidationError({"user": [_("Esa persona no puede seguir este ticket.")]})
        ticket_services.add_follower(ticket=ticket, actor=request.user, follower=follower)
        return Response(s.UserRefSerializer(follower).data, status=status.HTTP_201_CREATED)


class TicketFollowerView(ReaderLanguageMixin, APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, user_id: int) -> Response:
        """Stop someone following the ticket: agents and the requester remove anyone, every follower
        themselves. 404 when that person does not follow this ticket."""
        ticket = _visible_ticket(request, pk)
        follower = next((f for f in ticket_selectors.followers(ticket) if f.pk == user_id), None)
        if follower is None:
            raise NotFound
        if not ticket_services.can_remove_follower(ticket, request.user, follower):
            raise PermissionDenied
        ticket_services.remove_follower(ticket=ticket, actor=request.user, follower=follower)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TicketLinksView(ReaderLanguageMixin, generics.ListAPIView):
    """A visible ticket's links, both directions, read from its side; only links to tickets the
    user may see (a franchisee never learns about another franchise's ticket)."""

    serializer_class = s.TicketLinkSerializer

    def get_queryset(self):
        return ticket_selectors.ticket_links(_visible_ticket(self.request, self.kwargs["pk"]), self.request.user)

    @extend_schema(request=s.TicketLinkCreateSerializer, responses={201: s.TicketLinkSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Agents: link this ticket to another (tickets.services.link_tickets, as the ticket page)."""
        ticket = _visible_ticket(request, pk)
        if not is_agent(request.user):
            raise PermissionDenied
        form = s.TicketLinkCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            other = ticket_selectors.ticket_for(request.user, form.validated_data["other"])
        except Http404:
            raise ValidationError({"other": [_("No hay ningún ticket con ese número.")]}) from None
        kind, reverse = TicketLink.RELATIONS[form.validated_data["relation"]]
        source, target = (other, ticket) if reverse else (ticket, other)
        link = ticket_services.link_tickets(ticket=source, actor=request.user, kind=kind, other=target)
        row = next(r for r in ticket_selectors.ticket_links(ticket, request.user) if r.link.pk == link.pk)
        return Response(s.TicketLinkSerializer(row).data, status=status.HTTP_201_CREATED)


class TicketLinkView(ReaderLanguageMixin, APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, link_id: int) -> Response:
        """Agents: remove a link of this ticket (either side); an event on both tickets."""
        ticket = _visible_ticket(request, pk)
        if not is_agent(request.user):
            raise PermissionDenied
        link = ticket_selectors.link_for(request.user, ticket, link_id)
        ticket_services.unlink_tickets(link=link, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArticleListView(ReaderLanguageMixin, generics.ListAPIView):
    """Knowledge-base articles the user may see (published only for franchisees), by title."""

    serializer_class = s.ArticleListSerializer

    def get_queryset(self):
        queryset = kb_selectors.visible_articles(self.request.user).order_by("title", "pk")
        category = self.request.query_params.get("category", "")
        return queryset.filter(category__slug=category) if SLUG_RE.fullmatch(category) else queryset

    @extend_schema(parameters=[OpenApiParameter("category", OpenApiTypes.STR, description="A category slug.")])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ArticleDetailView(ReaderLanguageMixin, APIView):
    serializer_class = s.ArticleSerializer

    @extend_schema(responses=s.ArticleSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ArticleSerializer(kb_selectors.get_article_or_404(request.user, slug)).data)


class ArticleSearchView(ReaderLanguageMixin, APIView):
    """The same ranked search as /kb/search/ and /kb/suggest/ (knowledge_base.search.search_articles)."""

    serializer_class = s.SearchResponseSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="Free text."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1–50, default 10."),
        ],
        responses=s.SearchResponseSerializer,
    )
    def get(self, request: Request) -> Response:
        try:
            limit = max(1, min(int(request.query_params.get("limit", 10)), 50))
        except ValueError:
            limit = 10
        result = search_articles(request.query_params.get("q", ""), user=request.user, limit=limit, with_facets=False)
        return Response({"results": [hit.as_json() for hit in result.hits], "suggestion": result.suggestion})


class ChatListView(ReaderLanguageMixin, generics.ListAPIView):
    """Chat conversations the user may open (their franchise's; all for agents), most recent first."""

    serializer_class = s.ConversationSerializer

    def get_queryset(self):
        queryset = chat_selectors.visible_conversations(self.request.user).order_by("-last_activity_at", "-id")
        wanted = self.request.query_params.get("status", "")
        return queryset.filter(status=wanted) if wanted in Conversation.Status.values else queryset

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=Conversation.Status.values)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


@extend_schema(exclude=True)
class NotFoundView(ReaderLanguageMixin, APIView):
    """Any other /api/v1/ path (e.g. `tickets/abc/`): a JSON 404 like the API's own, not the HTML page."""

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise NotFound

    get = post = put = patch = delete = _not_found
