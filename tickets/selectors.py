"""Every read of tickets, scoped to the asking user through accounts.access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.access import get_visible_or_404, is_agent, is_supervisor, scope_to_user
from accounts.models import Franchise, User
from tickets import custom_fields, search
from tickets.ids import parse_id
from tickets.models import (
    ACTIVE_STATUSES,
    Attachment,
    Category,
    Comment,
    Event,
    Priority,
    SavedView,
    SlaState,
    Status,
    Tag,
    Ticket,
    TicketLink,
)
from tickets.tags import normalize_tag


def visible_tickets(user: User) -> QuerySet[Ticket]:
    return scope_to_user(Ticket.objects.all(), user)


def ticket_for(user: User, pk: int) -> Ticket:
    """One ticket the user may see (404 otherwise), with what the detail page shows."""
    return get_visible_or_404(
        Ticket.objects.select_related("franchise", "requester", "assignee", "category", "merged_into"), user, pk=pk
    )


#: long columns no list shows
LIST_DEFER = ("description", "rating_comment")


def _tagged(queryset: QuerySet[Ticket], tag: str) -> QuerySet[Ticket]:
    """Tickets carrying the tag (through the indexed tag → ticket pairs of the m2m table)."""
    name = normalize_tag(tag)
    if not name:
        return queryset
    return queryset.filter(pk__in=Ticket.tags.through.objects.filter(tag__name=name).values("ticket_id"))


def with_tags(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Agent lists show each ticket's tags: one more query per page, whatever its length."""
    return queryset.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))


def franchise_tickets(user: User, *, status: str = "", q: str = "", tag: str = "") -> QuerySet[Ticket]:
    """The /tickets/ list: the user's franchise (all for agents), newest first.

    Tags are agents' labels: only agents filter by them and see them."""
    queryset = visible_tickets(user).select_related("assignee", "category", "franchise").defer(*LIST_DEFER)
    if status in Status.values:
        queryset = queryset.filter(status=status)
    agent = is_agent(user)
    if agent:
        queryset = with_tags(_tagged(queryset, tag))
    queryset = search.matching(queryset, q, internal=agent)
    return search.ranked(queryset, q, internal=agent, then=("-created_at", "-id"))


def recent_tickets(user: User, limit: int = 5) -> list[Ticket]:
    """For the franchisee home page."""
    return list(visible_tickets(user).only("id", "subject", "status", "created_at").order_by("-created_at")[:limit])


@dataclass(frozen=True)
class DashboardFilters:
    view: str = "unassigned"  # unassigned | mine | open
    status: str = ""
    priority: str = ""
    category: int | None = None
    franchise: int | None = None
    sla: str = ""
    q: str = ""
    sort: str = "due"  # due | -due | created | -created | relevance (with q)
    tag: str = ""
    fields: tuple[tuple[int, str], ...] = ()  # custom field id → value (`cf_<id>` parameters)
    assignee: str = ""  # "" any | "me" | "none" | an agent's id

    @property
    def per_user(self) -> bool:
        """Whether the result depends on who asks ("mine", "assigned to me")."""
        return self.view == "mine" or self.assignee == "me"


SORTS = {
    "due": ("resolution_due", "id"),
    "-due": ("-resolution_due", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}
QUEUES = ("unassigned", "mine", "open")
#: The /agent/ parameters a saved view keeps (plus `cf_<id>`).
FILTER_KEYS = ("view", "status", "priority", "category", "franchise", "assignee", "sla", "q", "tag", "sort")


def filters_from_query(get: Mapping[str, str]) -> DashboardFilters:
    """The dashboard's filters from its query parameters (or a saved view's)."""
    view = get.get("view", "unassigned")
    assignee = get.get("assignee", "").strip()
    if assignee not in ("me", "none") and parse_id(assignee) is None:
        assignee = ""
    return DashboardFilters(
        view=view if view in QUEUES else "unassigned",
        status=get.get("status", ""),
        priority=get.get("priority", ""),
        category=parse_id(get.get("category")),
        franchise=parse_id(get.get("franchise")),
        sla=get.get("sla", ""),
        q=get.get("q", "").strip()[:100],
        sort=get.get("sort", "due"),
        tag=get.get("tag", "").strip()[:50],
        fields=field_filters(get),
        assignee=assignee,
    )


def field_filters(get: Mapping[str, str]) -> tuple[tuple[int, str], ...]:
    """`cf_<id>=value` parameters (at most 10), for the custom-field filters."""
    pairs = []
    for name in get:
        value = str(get.get(name, "")).strip()
        if name.startswith("cf_") and (pk := parse_id(name[3:])) and value:
            pairs.append((pk, value[:100]))
    return tuple(sorted(pairs)[:10])


def filter_query(get: Mapping[str, str]) -> str:
    """The filter parameters of a query, normalised (known keys, non-empty, sorted): a view's `query`."""
    keep = {k: str(get.get(k, "")).strip()[:100] for k in get if k in FILTER_KEYS or k.startswith("cf_")}
    return urlencode(sorted((k, v) for k, v in keep.items() if v))[:1000]


def dashboard_queryset(user: User, filters: DashboardFilters) -> QuerySet[Ticket]:
    """The dashboard's filtered tickets, unordered and without joins (lists and tab counts build on it)."""
    if not is_agent(user):
        return Ticket.objects.none()
    queryset = Ticket.objects.all()
    if filters.status in Status.values:
        queryset = queryset.filter(status=filters.status)
    else:
        queryset = queryset.filter(status__in=ACTIVE_STATUSES)
    if filters.view == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.view == "mine":
        queryset = queryset.filter(assignee=user)
    if filters.assignee == "me":
        queryset = queryset.filter(assignee=user)
    elif filters.assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.assignee:
        queryset = queryset.filter(assignee_id=parse_id(filters.assignee))
    if filters.priority in Priority.values:
        queryset = queryset.filter(priority=filters.priority)
    if filters.category:
        queryset = queryset.filter(category_id=filters.category)
    if filters.franchise:
        queryset = queryset.filter(franchise_id=filters.franchise)
    if filters.sla in SlaState.values:
        queryset = queryset.filter(sla_state=filters.sla)
    queryset = custom_fields.filter_tickets(queryset, filters.fields)
    return _tagged(search.matching(queryset, filters.q, internal=True), filters.tag)


def dashboard_tickets(user: User, filters: DashboardFilters) -> QuerySet[Ticket]:
    """The agent dashboard list (agents only)."""
    queryset = dashboard_queryset(user, filters).select_related("franchise", "assignee", "category")
    queryset = with_tags(queryset.defer(*LIST_DEFER))
    order = SORTS.get(filters.sort, SORTS["due"])
    if filters.sort == "relevance" and filters.q:
        return search.ranked(queryset, filters.q, internal=True, then=SORTS["due"])
    return queryset.order_by(*order)


def timeline(ticket: Ticket, user: User) -> list[Event]:
    """Events of a ticket in order; internal ones (notes, SLA) only for agents."""
    events = Event.objects.filter(ticket=ticket).select_related("actor", "comment", "comment__author")
    attachments = Attachment.objects.order_by("created_at", "id")
    if not is_agent(user):
        events = events.filter(internal=False).exclude(comment__internal=True)
    return list(events.prefetch_related(Prefetch("comment__attachments", queryset=attachments)))


def ticket_attachments(ticket: Ticket) -> list[Attachment]:
    """Files attached when the ticket was opened (not to a comment)."""
    return list(ticket.attachments.filter(comment__isnull=True).order_by("created_at", "id"))


def attachment_for(user: User, ticket_pk: int, pk: int) -> Attachment:
    """An attachment the user may download: same franchise rule, and never one of an internal note."""
    queryset = Attachment.objects.select_related("ticket", "comment").filter(ticket_id=ticket_pk)
    if not is_agent(user):
        queryset = queryset.exclude(comment__internal=True)
    return get_visible_or_404(queryset, user, field="ticket__franchise", pk=pk)


def public_comments(ticket: Ticket) -> QuerySet[Comment]:
    return ticket.comments.filter(internal=False)


def active_agents() -> list[User]:
    return list(User.objects.filter(role__in=(User.Role.AGENT, User.Role.SUPERVISOR), is_active=True).order_by("pk"))


def categories() -> list[Category]:
    return list(Category.objects.filter(active=True))


def franchises() -> list[Franchise]:
    return list(Franchise.objects.filter(active=True))


def mergeable_targets(ticket: Ticket) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(franchise_id=ticket.franchise_id)
        .exclude(pk=ticket.pk)
        .exclude(status=Status.CLOSED)
        .only("id", "subject")
        .order_by("-created_at")[:50]
    )


def category_by_pk(pk: int) -> Category:
    return get_object_or_404(Category, pk=pk, active=True)


def comments_for(ticket: Ticket, user: User) -> QuerySet[Comment]:
    """A ticket's comments in order; internal notes only for agents (the API's comment list)."""
    comments = ticket.comments.select_related("author").order_by("created_at", "id")
    return comments if is_agent(user) else comments.filter(internal=False)


def tag_names(limit: int = 200) -> list[str]:
    """Known tags, for the filter and the ticket page's suggestions."""
    return list(Tag.objects.order_by("name").values_list("name", flat=True)[:limit])


def ticket_tags(ticket: Ticket) -> list[str]:
    return list(ticket.tags.order_by("name").values_list("name", flat=True))


# --- followers, links, audit ------------------------------------------------------------


def followers(ticket: Ticket) -> list[User]:
    """Who follows the ticket (requester included when they follow it), by name."""
    return list(ticket.watchers.filter(is_active=True).order_by("first_name", "username"))


def possible_follower(ticket: Ticket, user_pk: int) -> User | None:
    """A user who could follow the ticket (its franchise's people or support staff), else None."""
    staff = Q(role__in=(User.Role.AGENT, User.Role.SUPERVISOR))
    return User.objects.filter(staff | Q(franchise_id=ticket.franchise_id), pk=user_pk).first()


@dataclass(frozen=True)
class LinkRow:
    link: TicketLink
    label: str
    other: Ticket
    relation: str = ""  # read from this ticket's side: a `TicketLink.Kind`, or "duplicated_by" / "blocked_by"


def ticket_links(ticket: Ticket, user: User) -> list[LinkRow]:
    """Both directions of the ticket's links, read from its side ("Bloqueado por T-…"), only to
    tickets the user may see (a franchisee never learns about another franchise's ticket)."""
    visible = visible_tickets(user).only("id", "subject", "status", "franchise_id")
    rows = []
    outgoing = TicketLink.objects.filter(source=ticket, target__in=visible).select_related("target")
    incoming = TicketLink.objects.filter(target=ticket, source__in=visible).select_related("source")
    for link in outgoing.only("id", "kind", "created_at", "target__id", "target__subject", "target__status"):
        rows.append(LinkRow(link, TicketLink.label(link.kind), link.target, link.kind))
    for link in incoming.only("id", "kind", "created_at", "source__id", "source__subject", "source__status"):
        relation = TicketLink.REVERSE_RELATIONS[link.kind]
        rows.append(LinkRow(link, TicketLink.label(link.kind, reverse=True), link.source, relation))
    return sorted(rows, key=lambda row: (row.label, row.other.pk))


def link_for(user: User, ticket: Ticket, pk: int) -> TicketLink:
    """A link of `ticket` (either side) whose other ticket the user may see; 404 otherwise."""
    visible = visible_tickets(user)
    link = (
        TicketLink.objects.filter(pk=pk)
        .filter(Q(source=ticket, target__in=visible) | Q(target=ticket, source__in=visible))
        .first()
    )
    if link is None:
        raise Http404
    return link


def linkable_ticket(user: User, number: str) -> Ticket:
    """The ticket an agent names by number (T-000123, #123 or 123) to link; 404 if unknown."""
    pk = parse_id((number or "").strip().upper().removeprefix("T-").lstrip("#"))
    if pk is None:
        raise Http404
    return get_visible_or_404(Ticket.objects.all(), user, pk=pk)


def time_spent_by_agent(ticket: Ticket) -> list[tuple[str, int]]:
    """Minutes each agent recorded on the ticket, most first (one grouped query)."""
    rows = (
        Comment.objects.filter(ticket=ticket, time_spent_minutes__isnull=False)
        .values("author__first_name", "author__last_name", "author__username")
        .annotate(minutes=Sum("time_spent_minutes"))
        .order_by("-minutes")
    )
    names = []
    for row in rows:
        full = f"{row['author__first_name']} {row['author__last_name']}".strip()
        names.append((full or row["author__username"] or "—", row["minutes"]))
    return names


# --- saved views ---------------------------------------------------------------------------------


def saved_views(user: User) -> list[SavedView]:
    """The tabs of an agent: their own views in their order, then the others' shared ones."""
    if not is_agent(user):
        return []
    views = SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
    return sorted(views, key=lambda v: (v.owner_id != user.pk, v.owner_id, v.position, v.pk))


def saved_view_for(user: User, pk: int | None) -> SavedView | None:
    """A view the agent may open (theirs or shared); None otherwise."""
    if pk is None or not is_agent(user):
        return None
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True), pk=pk).first()


def own_view(user: User, pk: int) -> SavedView:
    """A view the agent may change: only their own (404 for anyone else's, shared or not)."""
    return get_object_or_404(SavedView, pk=pk, owner_id=user.pk)


# --- the supervisors' audit log -----------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # a username, or "-" for changes made by the system (no actor)
    franchise: int | None = None
    kind: str = ""
    via: str = ""
    start: date | None = None
    end: date | None = None  # inclusive

    @classmethod
    def from_query(cls, get) -> AuditFilters:
        return cls(
            actor=get.get("actor", "").strip()[:150],
            franchise=parse_id(get.get("franchise")),
            kind=get.get("kind", "") if get.get("kind", "") in Event.Kind.values else "",
            via=get.get("via", "") if get.get("via", "") in Event.Via.values else "",
            start=_date(get.get("start")),
            end=_date(get.get("end")),
        )


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10]) if value else None
    except ValueError:
        return None


def audit_events(user: User, filters: AuditFilters) -> QuerySet[Event]:
    """Every timeline event of every ticket, newest first (supervisors; others get nothing).

    Internal events included: the log is for supervisors. Read through the (created_at, id),
    (actor, created_at, id) and (kind, created_at, id) indexes.
    """
    if not is_supervisor(user):
        return Event.objects.none()
    events = Event.objects.select_related("actor", "ticket", "ticket__franchise").only(
        "id",
        "kind",
        "old_value",
        "new_value",
        "internal",
        "via",
        "created_at",
        "comment_id",
        "actor__username",
        "actor__first_name",
        "actor__last_name",
        "ticket__id",
        "ticket__subject",
        "ticket__franchise__name",
    )
    if filters.actor == "-":
        events = events.filter(actor__isnull=True)
    elif filters.actor:
        events = events.filter(actor__username=filters.actor)
    if filters.franchise:
        events = events.filter(ticket__franchise_id=filters.franchise)
    if filters.kind:
        events = events.filter(kind=filters.kind)
    if filters.via:
        events = events.filter(via=filters.via)
    zone = timezone.get_current_timezone()
    if filters.start:
        events = events.filter(created_at__gte=datetime.combine(filters.start, time.min, tzinfo=zone))
    if filters.end:
        events = events.filter(created_at__lt=datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=zone))
    return events.order_by("-created_at", "-id")
