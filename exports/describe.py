"""Export filters in words: the form the dashboard offers, the line on the job's card, and the
piece of the file name.

Everything here reads filters that `exports.filters` has already checked (or checks them
again through it), so a description never names a field the allow-list does not permit.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from exports.filters import FilterError, filter_key, filter_value
from exports.registry import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    EXPORT_TYPES,
    FLOAT,
    INT,
    ExportType,
    field_kind,
)
from exports.registry import resolve_field as _field
from jobs.numbers import fmt_number

# The kinds of input the dashboard draws, by field: a choice list, yes/no, a date range, a
# number range, or "contains" text. The lookups each one sends are in static/js/export-form.js.
CHOICE, YES_NO, DATES, NUMBERS, TEXT = "choice", "bool", "date", "number", "text"
_FORM_KINDS = {BOOL: YES_NO, DATE: DATES, DATETIME: DATES, DECIMAL: NUMBERS, FLOAT: NUMBERS,
               INT: NUMBERS}
# How a comparison reads before its value; exact (and iexact) reads as the value alone.
_VERBS = {
    "in": "one of", "gt": "over", "gte": "at least", "lt": "under", "lte": "at most",
    "contains": "contains", "icontains": "contains", "startswith": "starts with",
    "istartswith": "starts with", "year": "year", "month": "month", "day": "day",
}
_DATE_VERBS = {"gt": "after", "gte": "from", "lt": "before", "lte": "to"}
SEPARATOR = " · "
MAX_VALUE_TEXT = 40  # characters of one value on the card
MAX_IN_SHOWN = 5  # values of an `in` list named on the card; the rest are counted
MAX_FILE_PART = 80  # characters of the file name that carry the filters
MAX_ADMIN_TEXT = 200  # characters of the admin's line


def filter_label(entry: ExportType, path: str) -> str:
    """The column header of the field when it is exported, else the model field's name."""
    for column in entry.columns:
        if column.path == path:
            return column.header
    return str(_field(entry.model, path).verbose_name).capitalize()


def filter_form(entry: ExportType) -> list[dict[str, Any]]:
    """The contract's `filters` of one claim type in GET /api/exports/types/: per allowed
    field, its label and the kind of input (with the choices of a choice field)."""
    out = []
    for path in entry.filters:
        fld = _field(entry.model, path)
        item: dict[str, Any] = {"field": path, "label": filter_label(entry, path)}
        if fld.choices:
            item["kind"] = CHOICE
            item["choices"] = [{"value": str(value), "label": str(label)}
                               for value, label in fld.flatchoices]
        else:
            item["kind"] = _FORM_KINDS.get(field_kind(fld), TEXT)
        out.append(item)
    return out


def _local_day(value: datetime) -> date | None:
    """The site's calendar day when `value` is its midnight, else None."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return local.date()
    return None


def _day_before(value: Any) -> date | None:
    """The last day an exclusive `lt` bound lets in, when the bound is a whole day: a date, or
    the site's midnight of a date/time field; else None."""
    if isinstance(value, datetime):
        day = _local_day(value)
        return None if day is None else day - timedelta(days=1)
    if isinstance(value, date):
        return value - timedelta(days=1)
    return None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_TEXT else text[:MAX_VALUE_TEXT - 1] + "…"


def _value_text(fld: models.Field, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fld.choices:
        return str(dict(fld.flatchoices).get(value, value))
    if isinstance(value, datetime):
        day = _local_day(value)
        if day is not None:
            return day.isoformat()
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    # Amounts with the page's separators; whole numbers (years) bare.
    if isinstance(value, Decimal):
        return f"{value:,f}"
    if isinstance(value, float):
        return fmt_number(value)
    return _clip(str(value))


def filter_parts(entry: ExportType, filters: dict[str, Any] | None
                 ) -> list[tuple[str, str, str]]:
    """(label, comparison, value) per filter, in the order given; raises FilterError like
    `filters_clean` for a filter that is not allowed."""
    parts = []
    for key, raw in (filters or {}).items():
        path, lookup = filter_key(entry, key)
        fld = _field(entry.model, path)
        value = filter_value(fld, lookup, raw)
        label = filter_label(entry, path)
        try:
            parts.append(_part(fld, lookup, label, value))
        except (OverflowError, ValueError):  # a day before date.min, a zone past year 9999
            parts.append((label, _verb(fld, lookup), _clip(str(raw))))
    return parts


def _verb(fld: models.Field, lookup: str) -> str:
    dated = isinstance(fld, models.DateField)  # DateTimeField is one too
    return (_DATE_VERBS if dated else {}).get(lookup) or _VERBS.get(lookup, "")


def _part(fld: models.Field, lookup: str, label: str, value: Any) -> tuple[str, str, str]:
    """One filter in words: (label, comparison, value text)."""
    verb = _verb(fld, lookup)
    if lookup == "isnull":
        return label, "", "empty" if value else "not empty"
    last_day = _day_before(value) if lookup == "lt" else None
    if last_day is not None:
        # "before (midnight of) the 1st" is "to the 31st": what a date range picker means,
        # and what the dashboard sends for an inclusive end date (export-form.js).
        verb, value = "to", last_day
    if lookup == "in":
        shown = [_value_text(fld, item) for item in value[:MAX_IN_SHOWN]]
        more = len(value) - len(shown)
        text = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    else:
        text = _value_text(fld, value)
    if lookup in {"contains", "icontains", "startswith", "istartswith"}:
        text = f"“{text}”"
    return label, verb, text


def filters_subtitle(entry: ExportType, filters: dict[str, Any] | None) -> str | None:
    """The line under the job's title: "Status: Paid · Created at: from 2026-01-01"; None
    without filters."""
    parts = filter_parts(entry, filters)
    if not parts:
        return None
    return SEPARATOR.join(f"{label}: {verb} {text}" if verb else f"{label}: {text}"
                          for label, verb, text in parts)


def filters_file_part(entry: ExportType, filters: dict[str, Any] | None) -> str:
    """The filters as a piece of a file name: `status-paid_created-at-from-2026-01-01`.

    Lowercase ASCII letters, digits, `-` and `_` only (slugify drops accents, quotes, slashes
    and anything a file system or a Content-Disposition header could mind); at most
    MAX_FILE_PART characters, cut at a whole filter when it can be."""
    pieces = []
    for label, verb, text in filter_parts(entry, filters):
        words = [slugify(label), slugify(verb), slugify(text) or "x"]
        pieces.append("-".join(w for w in words if w))
    part = ""
    for piece in pieces:
        longer = f"{part}_{piece}" if part else piece
        if len(longer) > MAX_FILE_PART:
            if not part:  # one long filter: cut it
                part = piece[:MAX_FILE_PART].rstrip("-_")
            break
        part = longer
    return part


def export_filename(entry: ExportType, filters: dict[str, Any] | None, fmt: str,
                    stamp: str) -> str:
    """`accident-claims-20261204-1530.xlsx`, or with filters
    `accident-claims_status-paid_20261204-1530.xlsx` (docs/contract.md)."""
    part = filters_file_part(entry, filters)
    if not part:
        return f"{entry.stem}-{stamp}.{fmt}"
    return f"{entry.stem}_{part}_{stamp}.{fmt}"


def params_text(params: dict[str, Any]) -> str:
    """A job's filters for the Django admin, in the card's words (its stored subtitle, or the
    same sentence made again); for rows that no longer validate (a claim type since removed, a
    hand-edited row) the raw filters, cut short: a line, never an error."""
    subtitle = params.get("subtitle")
    if isinstance(subtitle, str) and subtitle:
        return _cut(subtitle)
    filters = params.get("filters") or {}
    entry = EXPORT_TYPES.get(params.get("claim_type") or "")
    if entry is not None and isinstance(filters, dict):
        try:
            return filters_subtitle(entry, filters) or ""
        except FilterError:
            pass
    return _cut(json.dumps(filters, ensure_ascii=False, default=str)) if filters else ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ADMIN_TEXT else text[: MAX_ADMIN_TEXT - 1] + "…"
