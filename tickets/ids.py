"""Parsing of ids and numbers typed by users or sent in forms."""

import re

_ID = re.compile(r"[0-9]{1,9}")


def parse_id(value: str | None) -> int | None:
    """A positive database id from ASCII digits (at most 9, so it fits any integer column), else None."""
    if not value or not _ID.fullmatch(value):
        return None
    return int(value) or None
