"""Ticket tags: how a typed label becomes a tag name (lowercase slug, accents kept)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tickets.models import TAG_MAX, TAGS_PER_TICKET


def normalize_tag(text: str) -> str:
    """`" TPV Ingenico "` → `"tpv-ingenico"`; empty when nothing usable is left."""
    return slugify((text or "").replace("\x00", ""), allow_unicode=True)[:TAG_MAX].strip("-_")


def parse_tags(values: Iterable[str] | str) -> list[str]:
    """Tag names from a comma-separated string or a list of strings, normalised, deduplicated, in order."""
    if isinstance(values, str):
        values = values.split(",")
    names: list[str] = []
    for value in values:
        for part in str(value).split(","):
            name = normalize_tag(part)
            if name and name not in names:
                names.append(name)
    return names


def check_count(names: Iterable[str]) -> None:
    if len(set(names)) > TAGS_PER_TICKET:
        raise ValidationError({"tags": _("Como máximo %(n)d etiquetas por ticket.") % {"n": TAGS_PER_TICKET}})
