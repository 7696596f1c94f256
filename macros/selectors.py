"""Reads of macros, scoped to the asking agent: shared ones and their own personal ones only."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from accounts.access import is_agent, is_supervisor
from accounts.models import User
from macros.models import Macro

SEARCH_LIMIT = 8


def visible_macros(user: User) -> QuerySet[Macro]:
    """Shared macros and the user's personal ones; nothing for anyone but agents."""
    if not is_agent(user):
        return Macro.objects.none()
    return Macro.objects.filter(Q(owner=None) | Q(owner=user)).select_related("owner", "assignee")


def macro_for(user: User, pk: int) -> Macro:
    """A macro the user may use, or Http404 (another agent's personal macro does not exist)."""
    macro = visible_macros(user).filter(pk=pk).first()
    if macro is None:
        raise Http404
    return macro


def can_edit(user: User, macro: Macro) -> bool:
    """Personal macros: their owner. Shared macros: supervisors."""
    if not is_agent(user):
        return False
    return macro.owner_id == user.pk if macro.owner_id else is_supervisor(user)


def editable_macro_for(user: User, pk: int) -> Macro:
    macro = macro_for(user, pk)
    if not can_edit(user, macro):
        raise Http404
    return macro


def search(user: User, query: str, limit: int = SEARCH_LIMIT) -> list[Macro]:
    """Macros whose name contains `query` (names that start with it first, then the most used)."""
    query = query.strip().lstrip("/")[:60]
    macros = visible_macros(user)
    if query:
        macros = macros.filter(Q(name__icontains=query) | Q(body__icontains=query))
    rank = Case(
        When(name__istartswith=query, then=Value(0)),
        When(name__icontains=query, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return list(macros.annotate(rank=rank).order_by("rank", "-usage_count", "name")[:limit])
