"""Filters a caller may pass to an export, checked against the registry entry's allow-list.

Keys are Django lookups as the admin changelist writes them (`status`, `status__exact`,
`created_at__gte`, `car__make__in`...), limited to the entry's `filters` field paths.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import connection, models
from django.utils import timezone

from exports.registry import ExportType, resolve_field
from jobs.numbers import fmt_number

LOOKUPS = frozenset({
    "exact", "iexact", "in", "gt", "gte", "lt", "lte", "isnull", "contains", "icontains",
    "startswith", "istartswith", "year", "month", "day",
})
_INT_LOOKUPS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
MAX_IN_VALUES = 1000


class FilterError(ValueError):
    """A filter that is not allowed or whose value does not fit the field."""


def filter_key(entry: ExportType, key: str) -> tuple[str, str]:
    """(field path, lookup) of one filter name; raise FilterError when it is not allowed."""
    if not isinstance(key, str):
        raise FilterError("Filter names must be strings.")
    path, _, lookup = key.rpartition("__")
    if path and lookup in LOOKUPS and path in entry.filters:
        return path, lookup
    if key in entry.filters:
        return key, "exact"
    allowed = ", ".join(entry.filters) or "none"
    raise FilterError(f"Filtering on {key!r} is not allowed for {entry.key}; allowed: {allowed}.")


def filter_value(fld: models.Field, lookup: str, value: Any) -> Any:
    """The value as the query takes it; raise FilterError when it does not fit the field."""
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL refuses NUL in text ("cannot contain NUL (0x00) characters"): the job
        # failed in its thread after the 202, and a count answered 500. Refused here, as
        # Django's forms do (ProhibitNullCharactersValidator), on every database.
        raise FilterError("Filter values cannot contain NUL (0x00) characters.")
    if lookup == "isnull" or (isinstance(fld, models.BooleanField) and lookup == "exact"):
        # A query string has no JSON true: the dashboard's count sends "true"/"false", which
        # BooleanField.to_python refuses (it takes "True", "t", "1").
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"1", "true", "t", "yes"}:
            return True
        if str(value).lower() in {"0", "false", "f", "no"}:
            return False
        raise FilterError(f"{'isnull' if lookup == 'isnull' else fld.name} takes true or "
                          f"false.")
    if lookup in _INT_LOOKUPS:
        low, high = _INT_LOOKUPS[lookup]
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON 1e400 is inf
            number = None
        # Out of range, the job's query would fail (year 10000 is no datetime) after a 202.
        if number is None or not low <= number <= high:
            raise FilterError(f"{lookup} takes a whole number from {low} to {high}.")
        return number
    if lookup == "in":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > MAX_IN_VALUES:
            raise FilterError(f"'in' takes a list (or comma-separated text) of at most "
                              f"{fmt_number(MAX_IN_VALUES)} values.")
        return [filter_value(fld, "exact", item) for item in items]
    if isinstance(value, dict | list):
        raise FilterError("Filter values must be text or numbers.")
    if lookup in {"contains", "icontains", "startswith", "istartswith", "iexact"}:
        return str(value)
    try:
        converted = fld.to_python(value)
    except ValidationError as exc:
        raise FilterError(f"{fld.name}: {' '.join(exc.messages)}") from None
    except OverflowError:  # IntegerField.to_python(float("inf")), from JSON 1e400
        raise FilterError(f"{fld.name}: {value!r} is out of range.") from None
    if isinstance(converted, int) and not isinstance(converted, bool) and isinstance(
            fld, models.IntegerField | models.AutoField):
        # 2**64 in a filter: PostgreSQL raises "out of range", SQLite OverflowError, in the
        # job's thread after the 202; refuse it here with a 400 instead.
        low, high = connection.ops.integer_field_range(fld.get_internal_type())
        if (low is not None and converted < low) or (high is not None and converted > high):
            raise FilterError(f"{fld.name}: {value!r} is out of range.")
    if fld.choices and lookup == "exact" and converted not in dict(fld.flatchoices):
        choices = ", ".join(str(k) for k in dict(fld.flatchoices))
        raise FilterError(f"{fld.name} must be one of: {choices}.")
    if isinstance(fld, models.DateTimeField) and converted is not None and timezone.is_naive(
            converted):
        converted = timezone.make_aware(converted)
    if isinstance(converted, datetime):
        try:
            # The query holds it in UTC: "0001-01-01T00:00+01:00" is year 0 there, an
            # OverflowError in the job's thread after the 202 (or in a count).
            converted.astimezone(UTC)
        except OverflowError:
            raise FilterError(f"{fld.name}: {value!r} is out of range.") from None
    return converted


def filters_clean(entry: ExportType, filters: Any) -> dict[str, Any]:
    """Check names and values; return the filters as given (JSON-safe) for the job's params."""
    if filters in (None, ""):
        return {}
    if not isinstance(filters, dict):
        raise FilterError("filters must be an object of lookup -> value.")
    q = filters_to_q(entry, filters)
    try:
        # Resolves every lookup against the model now (no query runs): `status__year` is
        # refused here with a 400 instead of failing the job in its thread after a 202.
        entry.model._default_manager.filter(q)
    except (FieldError, ValueError, TypeError) as exc:
        raise FilterError(f"These filters do not fit {entry.key} claims: {exc}") from None
    return {str(k): v for k, v in filters.items()}


def filters_to_q(entry: ExportType, filters: dict[str, Any]) -> models.Q:
    """The Q object for validated filters (raises FilterError)."""
    q = models.Q()
    for key, value in filters.items():
        path, lookup = filter_key(entry, key)
        fld = resolve_field(entry.model, path)
        q &= models.Q(**{f"{path}__{lookup}": filter_value(fld, lookup, value)})
    return q
