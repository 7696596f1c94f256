"""Who may see what: the one place every app asks.

Agents and supervisors see every franchise; a franchisee sees only their own franchise.
Anything else is "not found" (404), never "forbidden", so ids of other franchises leak nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User

M = TypeVar("M", bound=Model)


def is_agent(user: User | AnonymousUser | None) -> bool:
    """True for active support staff (agents and supervisors)."""
    return bool(user and user.is_authenticated and user.is_active and user.role in ("agent", "supervisor"))


def is_supervisor(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role == "supervisor")


def is_franchisee(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role == "franchisee")


def visible_franchise_id(user: User | AnonymousUser | None) -> int | None:
    """The only franchise a franchisee may see; None for staff (who see all) — check is_agent first."""
    if is_franchisee(user):
        return user.franchise_id
    return None


def can_see_franchise(user: User | AnonymousUser | None, franchise_id: int | None) -> bool:
    if is_agent(user):
        return True
    return is_franchisee(user) and franchise_id is not None and user.franchise_id == franchise_id


def scope_to_user(queryset: QuerySet[M], user: User | AnonymousUser | None, field: str = "franchise") -> QuerySet[M]:
    """Restrict a queryset to the rows the user may see, through its franchise field."""
    if is_agent(user):
        return queryset
    if is_franchisee(user):
        return queryset.filter(**{f"{field}_id": user.franchise_id})
    return queryset.none()


def get_visible_or_404(
    queryset: QuerySet[M], user: User | AnonymousUser | None, field: str = "franchise", **lookup
) -> M:
    """Fetch one row the user may see, or raise Http404 (also for rows of other franchises)."""
    try:
        return scope_to_user(queryset, user, field).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc
