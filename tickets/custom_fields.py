"""Custom fields of a category: their form fields, validation, display, filters and CSV columns.

One Django form field per kind (`form_field`) parses and validates a value wherever it comes from
(the new-ticket form, the ticket page, the API), so every entry point applies the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from tickets.models import Category, CustomField, CustomValue, Ticket

TEXT_MAX = 500
Value = str | Decimal | date | None


def fields_for(category: Category | int | None) -> list[CustomField]:
    """The active fields of a category, in order (none without a category)."""
    if category is None:
        return []
    category_id = category if isinstance(category, int) else category.pk
    return list(CustomField.objects.filter(category_id=category_id, active=True).order_by("position", "id"))


def fields_by_category() -> dict[int, list[CustomField]]:
    """Every active category's active fields (the new-ticket form shows the chosen one's)."""
    grouped: dict[int, list[CustomField]] = {}
    for field in CustomField.objects.filter(active=True, category__active=True).order_by("position", "id"):
        grouped.setdefault(field.category_id, []).append(field)
    return grouped


def input_name(field: CustomField) -> str:
    """The name of a field's input in the HTML forms (`cf_<id>`)."""
    return f"cf_{field.pk}"


def form_field(field: CustomField, *, required: bool | None = None) -> forms.Field:
    """The Django form field that parses and validates this custom field's values."""
    options = {
        "label": field.label,
        "required": field.required if required is None else required,
        "help_text": field.help_text,
    }
    if field.kind == CustomField.Kind.NUMBER:
        return forms.DecimalField(max_digits=18, decimal_places=4, **options)
    if field.kind == CustomField.Kind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **options)
    if field.kind == CustomField.Kind.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(o, o) for o in field.option_list]], **options)
    return forms.CharField(max_length=TEXT_MAX, **options)


def clean_value(field: CustomField, raw: object, *, required: bool | None = None) -> Value:
    """A typed value (None for empty) or ValidationError with the form field's message."""
    if isinstance(raw, str):
        raw = raw.replace("\x00", "").strip()
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = str(raw)
    value = form_field(field, required=required).clean(raw)
    return None if value in ("", None) else value


def validate(
    category: Category | None,
    raw: Mapping[str, object],
    *,
    enforce_required: bool = True,
    partial: bool = False,
    fields: list[CustomField] | None = None,
) -> dict[CustomField, Value]:
    """Values keyed by field `key` → typed values of the category's fields.

    Unknown keys are refused. `partial` (an edit) validates only the keys given, but never
    empties a required field; errors are one ValidationError keyed by field key. `fields`: the
    category's active fields when the caller has just read them (`fields_by_category()`)."""
    fields = {field.key: field for field in (fields_for(category) if fields is None else fields)}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        errors["custom_fields"] = [_("Campos desconocidos en esta categoría: %(k)s.") % {"k": ", ".join(unknown)}]
    values: dict[CustomField, Value] = {}
    for key, field in fields.items():
        if partial and key not in raw:
            continue
        try:
            values[field] = clean_value(field, raw.get(key), required=field.required and enforce_required)
        except ValidationError as exc:
            errors[key] = [f"{field.label}: {message}" for message in exc.messages]
    if errors:
        raise ValidationError(errors)
    return values


def display(field: CustomField, value: Value) -> str:
    """How a value reads on the pages, in the timeline and in the CSV."""
    if value is None or value == "":
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def to_json(field: CustomField, value: Value) -> str | float | int | None:
    """The API's representation: numbers as numbers, dates as ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def columns_for(field: CustomField) -> dict[str, object]:
    """The CustomValue columns that hold a value of this field."""
    if field.kind == CustomField.Kind.NUMBER:
        return {"number": None}
    if field.kind == CustomField.Kind.DATE:
        return {"date": None}
    return {"text": ""}


def stored_values(ticket: Ticket) -> dict[int, CustomValue]:
    """The ticket's stored values by field id (one query, fields joined)."""
    return {v.field_id: v for v in CustomValue.objects.filter(ticket=ticket).select_related("field")}


@dataclass(frozen=True)
class ShownValue:
    field: CustomField
    value: Value
    text: str
    json: object


def values_of(ticket: Ticket) -> list[ShownValue]:
    """The ticket's category's fields with their values, in order (empty ones included)."""
    stored = stored_values(ticket)
    shown = []
    for field in fields_for(ticket.category_id):
        value = stored[field.pk].value if field.pk in stored else None
        shown.append(ShownValue(field, value, display(field, value), to_json(field, value)))
    return shown


# --- filters ---------------------------------------------------------------------------------


def filter_tickets(queryset: QuerySet[Ticket], filters: Iterable[tuple[int, str]]) -> QuerySet[Ticket]:
    """Tickets whose field `id` has the value: exact for numbers, dates and lists, contains for text.

    Each condition is `id IN (SELECT ticket_id FROM tickets_customvalue WHERE field_id = … AND …)`,
    served by the (field, column) indexes. Unknown fields or unparsable values match nothing."""
    wanted = [(pk, raw) for pk, raw in filters if raw]
    if not wanted:
        return queryset
    fields = CustomField.objects.in_bulk([pk for pk, _raw in wanted])
    for pk, raw in wanted:
        field = fields.get(pk)
        if field is None:
            return queryset.none()
        try:
            value = clean_value(field, raw, required=False)
        except ValidationError:
            return queryset.none()
        rows = CustomValue.objects.filter(field_id=pk)
        if field.kind == CustomField.Kind.TEXT:
            rows = rows.filter(text__icontains=value)
        else:
            rows = rows.filter(**{next(iter(columns_for(field))): value})
        queryset = queryset.filter(pk__in=rows.values("ticket_id"))
    return queryset


# --- CSV export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportColumns:
    """Extra CSV columns: `headers` once, then `row(ticket)` for each ticket of the chunk."""

    headers: list[str]
    _fields: list[CustomField]
    _values: dict[tuple[int, int], Value]
    _tags: dict[int, list[str]]

    def row(self, ticket: Ticket) -> list[str]:
        cells = [", ".join(self._tags.get(ticket.pk, []))]
        cells += [display(field, self._values.get((ticket.pk, field.pk))) for field in self._fields]
        return cells


def export_columns(tickets: Sequence[Ticket]) -> ExportColumns:
    """The tags and custom-field columns of a CSV export of `tickets` (a list or a chunk of one).

    The headers are the same for every call (a "Etiquetas" column, then every active custom
    field as "<label> (<category>)"), so an export written in chunks calls this once per chunk
    and writes the headers of the first call. Three queries per call, whatever the number of
    tickets: the fields, the chunk's values and the chunk's tags."""
    fields = list(
        CustomField.objects.filter(active=True).select_related("category").order_by("category__name", "position", "id")
    )
    ids = [ticket.pk for ticket in tickets]
    values: dict[tuple[int, int], Value] = {}
    for row in CustomValue.objects.filter(ticket_id__in=ids).select_related("field"):
        values[(row.ticket_id, row.field_id)] = row.value
    tags: dict[int, list[str]] = {}
    pairs = Ticket.tags.through.objects.filter(ticket_id__in=ids).values_list("ticket_id", "tag__name")
    for ticket_id, name in pairs.order_by("tag__name"):
        tags.setdefault(ticket_id, []).append(name)
    headers = [_("Etiquetas"), *[f"{field.label} ({field.category.display_name})" for field in fields]]
    return ExportColumns(headers, fields, values, tags)
