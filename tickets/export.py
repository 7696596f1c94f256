"""CSV exports of tickets and of the figures, streamed in constant memory.

Rows are read with a server-side cursor (`QuerySet.iterator(chunk_size=CHUNK)`) and written one
chunk at a time, so memory does not grow with the number of tickets (docs/PERFORMANCE.md
"CSV export"). Under ASGI (Daphne) Django would turn a synchronous iterator into a list first
(the whole file in memory): `StreamingCSVResponse.__aiter__` pulls one chunk at a time instead.

**Extra columns** (tags, custom fields…): another module calls `register_columns(ExtraColumns(...))`
once (e.g. in its AppConfig.ready); its `values(ticket_ids)` is called once per chunk with the ids
of that chunk, so it adds a constant number of queries per CHUNK rows, never one per ticket.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from support_portal.times import time_zone_of
from tickets.models import Priority, SlaState, Source, Status, Ticket

CHUNK = 2000


@dataclass(frozen=True)
class ExtraColumns:
    """Columns another module adds to the ticket export."""

    headers: Callable[[], list[str]]
    values: Callable[[list[int]], dict[int, list[str]]]  # ticket id -> one value per header


_EXTRA: list[ExtraColumns] = []


def register_columns(columns: ExtraColumns) -> None:
    """Add columns to the ticket CSV (idempotent for the same object)."""
    if columns not in _EXTRA:
        _EXTRA.append(columns)


def extra_columns() -> list[ExtraColumns]:
    return list(_EXTRA)


# --- writing ---------------------------------------------------------------------------------------


class _Line:
    """A file-like object csv.writer writes into; `take()` returns what was written since."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, value: str) -> None:
        self.parts.append(value)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def _safe(value) -> str:
    """A cell as text; a leading = + - @ (a spreadsheet formula) is quoted with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """The header, then the rows in chunks of CHUNK lines (one string per chunk). BOM first so
    spreadsheet programs read UTF-8."""
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(header)
    yield "\ufeff" + line.take()
    size = CHUNK
    for count, row in enumerate(rows, start=1):
        writer.writerow([_safe(value) for value in row])
        if count % size == 0:
            yield line.take()
    if rest := line.take():
        yield rest


class StreamingCSVResponse(StreamingHttpResponse):
    """A streamed CSV download that stays streamed under ASGI too (one chunk in memory at a time)."""

    def __init__(self, chunks: Iterator[str], filename: str) -> None:
        super().__init__(chunks, content_type="text/csv; charset=utf-8")
        self["Content-Disposition"] = f'attachment; filename="{filename}"'
        self["Cache-Control"] = "private, no-store"
        self["X-Content-Type-Options"] = "nosniff"

    async def __aiter__(self):
        # Django's own __aiter__ would list() a synchronous iterator; read it chunk by chunk in the
        # request's sync thread instead (the database cursor lives there).
        iterator = iter(self.streaming_content)
        done = object()
        step = sync_to_async(next, thread_sensitive=True)
        while (part := await step(iterator, done)) is not done:
            yield part


# --- tickets ---------------------------------------------------------------------------------------


def viewer_zone(user: User) -> tzinfo:
    """The viewer's time zone (theirs, else their franchise's, else the portal's)."""
    return time_zone_of(user)


def _when(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""


TICKET_FIELDS = (
    "id",
    "created_at",
    "franchise__name",
    "requester__username",
    "subject",
    "category__name",
    "category__name_en",
    "priority",
    "status",
    "source",
    "assignee__username",
    "sla_state",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_seconds",
    "resolution_seconds",
    "rating",
    "time_spent_minutes",
)


def _base_header() -> list[str]:
    return [
        _("Número"),
        _("Creado"),
        _("Franquicia"),
        _("Solicitante"),
        _("Asunto"),
        _("Categoría"),
        _("Prioridad"),
        _("Estado"),
        _("Origen"),
        _("Asignado a"),
        _("SLA"),
        _("Primera respuesta"),
        _("Resuelto"),
        _("Cerrado"),
        _("Primera respuesta (min laborables)"),
        _("Resolución (min laborables)"),
        _("Valoración"),
        _("Tiempo dedicado (min)"),
    ]


def _minutes(seconds: int | None) -> str:
    return "" if seconds is None else str(round(seconds / 60))


def _labels() -> dict[str, dict[str, str]]:
    """Choice labels in the request's language, read once (the rows are written later)."""
    return {
        name: {value: str(label) for value, label in choices}
        for name, choices in (
            ("priority", Priority.choices),
            ("status", Status.choices),
            ("source", Source.choices),
            ("sla_state", SlaState.choices),
        )
    }


def ticket_rows(queryset: QuerySet[Ticket], zone: tzinfo, extras: list[tuple[ExtraColumns, int]]) -> Iterator[list]:
    """One list per ticket, read CHUNK at a time from a server-side cursor; each extra provider
    (with its number of columns) is asked once per chunk."""
    labels = _labels()
    english = (translation.get_language() or "").startswith("en")  # category names: the reader's
    chunk_size = CHUNK

    def flush(chunk: list[dict]) -> Iterator[list]:
        ids = [row["id"] for row in chunk]
        added = [(extra.values(ids), width) for extra, width in extras]
        for row in chunk:
            line = [
                f"T-{row['id']:06d}",
                _when(row["created_at"], zone),
                row["franchise__name"],
                row["requester__username"],
                row["subject"],
                (english and row["category__name_en"]) or row["category__name"] or "",
                labels["priority"].get(row["priority"], row["priority"]),
                labels["status"].get(row["status"], row["status"]),
                labels["source"].get(row["source"], row["source"]),
                row["assignee__username"],
                labels["sla_state"].get(row["sla_state"], row["sla_state"]),
                _when(row["first_response_at"], zone),
                _when(row["resolved_at"], zone),
                _when(row["closed_at"], zone),
                _minutes(row["first_response_seconds"]),
                _minutes(row["resolution_seconds"]),
                row["rating"],
                row["time_spent_minutes"],
            ]
            for values, width in added:
                line += values.get(row["id"], [""] * width)
            yield line

    chunk: list[dict] = []
    for row in queryset.values(*TICKET_FIELDS).iterator(chunk_size=chunk_size):
        chunk.append(row)
        if len(chunk) == chunk_size:
            yield from flush(chunk)
            chunk = []
    if chunk:
        yield from flush(chunk)


def tickets_csv(queryset: QuerySet[Ticket], user: User, filename: str = "tickets.csv") -> StreamingCSVResponse:
    """The tickets of `queryset` (already scoped to the user) as a streamed CSV, times in the
    viewer's zone, with the registered extra columns."""
    zone = viewer_zone(user)
    header = _base_header()
    extras = []
    for extra in extra_columns():
        headers = extra.headers()
        header += headers
        extras.append((extra, len(headers)))
    rows = ticket_rows(queryset.order_by("id"), zone, extras)
    return StreamingCSVResponse(csv_chunks(header, rows), filename)


def rows_csv(header: list[str], rows: Iterable[list], filename: str) -> StreamingCSVResponse:
    """A small table (the figures) as a CSV download."""
    return StreamingCSVResponse(csv_chunks(header, rows), filename)


# --- the tags and custom-field columns (tickets.custom_fields) ----------------------------------------


def _custom_field_values(ids: list[int]) -> dict[int, list[str]]:
    from tickets import custom_fields

    stubs = [Ticket(pk=pk) for pk in ids]
    columns = custom_fields.export_columns(stubs)
    return {stub.pk: columns.row(stub) for stub in stubs}


def _custom_field_headers() -> list[str]:
    from tickets import custom_fields

    return list(custom_fields.export_columns([]).headers)


register_columns(ExtraColumns(headers=_custom_field_headers, values=_custom_field_values))
