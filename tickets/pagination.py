"""Keyset-free, count-free pagination: one query per page (no COUNT over large result sets)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from tickets.ids import parse_id

MAX_PAGE = 10_000


@dataclass
class Page:
    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def page_of(queryset: QuerySet, page: str | None, size: int) -> Page:
    """Rows of page `page` (1-based; bad values → 1), fetching one extra row to know if more follow."""
    number = parse_id(page) or 1
    number = min(max(number, 1), MAX_PAGE)
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return Page(object_list=rows[:size], number=number, has_next=len(rows) > size)
