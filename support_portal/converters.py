"""The one path converter for database ids: `<id:pk>` in every urls.py.

Django's `<int:…>` accepts any number of digits, and an id beyond the database's integer range
makes the lookup fail (SQLite `OverflowError`, PostgreSQL "out of range") instead of a 404.
`<id:…>` matches only numbers a BigAutoField can hold (0 … 2**63-1); anything else does not
resolve, which is a 404 before any view or query runs. tests/test_security_ids.py fails when
a route uses `<int:…>`.
"""

from __future__ import annotations

from django.urls import register_converter

ID_MAX = 2**63 - 1  # BigAutoField / PositiveBigIntegerField upper bound


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > ID_MAX:
            raise ValueError(f"id out of range: {value}")  # Django: the route does not match
        return number

    def to_url(self, value: int | str) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
