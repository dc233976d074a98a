"""Reads for exports: the rows of one export, the list of types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from exports.describe import filter_form
from exports.filters import filters_to_q
from exports.registry import EXPORT_TYPES, ExportType


def _filtered(entry: ExportType, filters: dict[str, Any] | None) -> QuerySet:
    qs = entry.model._default_manager.all()
    if filters:
        qs = qs.filter(filters_to_q(entry, filters))
    return qs.order_by("pk")


def export_queryset(*, entry: ExportType, filters: dict[str, Any] | None = None) -> QuerySet:
    """The rows of an export as tuples in column order (one JOIN to the car, no model objects)."""
    return _filtered(entry, filters).values_list(*entry.paths)


def export_chunks(*, entry: ExportType, filters: dict[str, Any] | None = None,
                  chunk_size: int = 2000) -> Iterator[list[tuple]]:
    """The rows of an export, `chunk_size` at a time, each chunk its own short query.

    Keyset pages (`pk > last`) instead of one long cursor: on SQLite a connection that keeps a
    read cursor open cannot write once another connection has written (SQLITE_BUSY_SNAPSHOT,
    no busy timeout helps), so the job's own progress writes failed with "database is locked"
    as soon as the heartbeat thread or a request wrote. Short queries also hold no transaction
    open on PostgreSQL for the minutes a million rows take.
    """
    qs = _filtered(entry, filters).values_list("pk", *entry.paths)
    last = None
    while True:
        page = qs if last is None else qs.filter(pk__gt=last)
        rows = list(page[:chunk_size].iterator(chunk_size=chunk_size))
        if not rows:
            return
        last = rows[-1][0]
        yield [row[1:] for row in rows]
        if len(rows) < chunk_size:
            return


def export_count(*, entry: ExportType, filters: dict[str, Any] | None = None) -> int:
    """How many rows an export with these (checked) filters would write now."""
    return _filtered(entry, filters).order_by().count()


def export_types_summary(*, types: list[ExportType] | None = None) -> list[dict[str, Any]]:
    """The contract's `types` list: key, label, row count (of `types`, default all) and the
    filters the dashboard offers for each."""
    return [
        {"key": t.key, "label": t.label, "rows": t.model._default_manager.count(),
         "filters": filter_form(t)}
        for t in (EXPORT_TYPES.values() if types is None else types)
    ]
