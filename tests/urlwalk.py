"""Walk the URL resolver: every route of the project, with sample arguments filled in."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE_VALUES = {
    "int": "1",
    "id": "1",
    "slug": "some-slug",
    "str": "something",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
}


def _fill(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES.get(m.group(1) or "str", "1"), route)
    # regex routes (admin): drop anchors and fill groups with a sample value
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def iter_routes(patterns=None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield (path, name) for every URL pattern, recursively."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from iter_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + _fill(route), pattern.name or ""


_SLOT = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def iter_templates(patterns=None, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """Yield (template, slot types) for every URL pattern: each `<type:name>` or regex group becomes
    `{}` in the template and its converter name (`"regex"` for a regex group) in the list."""
    for path, _name in _raw_routes(patterns, prefix):
        types: list[str] = []

        def slot(match: re.Match, types=types) -> str:
            types.append("regex" if match.group(3) else (match.group(1) or "str"))
            return "\x00"

        route = _SLOT.sub(slot, path).replace("^", "").replace("$", "").replace("\\", "")
        yield "/" + route.replace("{", "{{").replace("}", "}}").replace("\x00", "{}"), types


def _raw_routes(patterns=None, prefix: str = "") -> Iterator[tuple[str, str]]:
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _raw_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.name or ""
