"""An export's filters as a person reads them: "status = paid, created at ≥ 2024-01-01".

For the Django admin's job list and detail (JobKind.describe); the job's params keep the
lookups as the API takes them. Filters were checked when the job started, but old rows, a
claim type since removed or a hand-edited row must still give a line, never an error.
"""

from __future__ import annotations

from typing import Any

from exports.filters import LOOKUPS
from exports.registry import EXPORT_TYPES, resolve_field
from jobs.numbers import fmt_number

OPERATORS = {
    "exact": "=", "iexact": "= (any case)", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
    "contains": "contains", "icontains": "contains (any case)", "startswith": "starts with",
    "istartswith": "starts with (any case)", "year": "year =", "month": "month =",
    "day": "day =",
}
SHOWN_VALUES = 5  # of an `in` list; the rest is counted
MAX_VALUE = 60  # characters of one value


def _label(model: Any, path: str) -> str:
    """`car__make` -> "car make", from the fields' verbose names when the model has them."""
    names = []
    for i in range(1, path.count("__") + 2):
        part = "__".join(path.split("__")[:i])
        try:
            names.append(str(resolve_field(model, part).verbose_name))
        except (LookupError, AttributeError):
            return path.replace("__", " ")
    return " ".join(names)


def _value(value: Any) -> str:
    text = fmt_number(value) if isinstance(value, int | float) and not isinstance(
        value, bool) else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _one(model: Any, key: str, value: Any) -> str:
    path, _, lookup = str(key).rpartition("__")
    if not path or lookup not in LOOKUPS:
        path, lookup = str(key), "exact"
    label = _label(model, path) if model is not None else path.replace("__", " ")
    if lookup == "isnull":
        empty = str(value).lower() in {"1", "true", "yes"}
        return f"{label} is {'empty' if empty else 'not empty'}"
    if lookup == "in":
        items = value.split(",") if isinstance(value, str) else list(value or [])
        shown = ", ".join(_value(item) for item in items[:SHOWN_VALUES])
        more = len(items) - SHOWN_VALUES
        return f"{label} in ({shown}{f' and {fmt_number(more)} more' if more > 0 else ''})"
    return f"{label} {OPERATORS[lookup]} {_value(value)}"


def filters_text(params: dict[str, Any]) -> str:
    """The export's filters in one line; "" when it exports every row."""
    filters = params.get("filters") or {}
    if not isinstance(filters, dict):
        return str(filters)[:200]
    entry = EXPORT_TYPES.get(params.get("claim_type") or "")
    model = entry.model if entry is not None else None
    return ", ".join(_one(model, key, value) for key, value in filters.items())
