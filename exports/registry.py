"""What can be exported: one declarative entry per claim type.

Adding a claim type is one `ExportType(...)` in EXPORT_TYPES. Column kinds (text, number, date...)
come from the model fields, so the writers know each column's type before the first row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.db import models

from exports.models import AccidentClaim, TheftClaim, WarrantyClaim

# Cell kinds the writers understand.
TEXT, INT, DECIMAL, FLOAT, DATE, DATETIME, BOOL = (
    "text", "int", "decimal", "float", "date", "datetime", "bool"
)
DEFAULT_FORMATS = {DECIMAL: "#,##0.00", DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm"}


@dataclass(frozen=True)
class Column:
    path: str  # field path as values_list takes it: "amount", "car__make"
    header: str
    number_format: str | None = None  # None: the kind's default (DEFAULT_FORMATS)


@dataclass(frozen=True)
class ResolvedColumn:
    path: str
    header: str
    kind: str
    number_format: str | None
    choices: dict | None  # raw value -> label, for fields with choices
    is_str: bool = True  # text columns whose database values are always str (or None)


def resolve_field(model: type[models.Model], path: str) -> models.Field:
    """The model field at the end of a `a__b__c` path; raise LookupError when there is none."""
    current: type[models.Model] = model
    parts = path.split("__")
    for i, name in enumerate(parts):
        try:
            fld = current._meta.get_field(name)
        except Exception:
            raise LookupError(f"{current.__name__} has no field {name!r}") from None
        if i < len(parts) - 1:
            if not fld.is_relation or fld.related_model is None:
                raise LookupError(f"{name!r} is not a relation")
            current = fld.related_model
    return fld


def field_kind(fld: models.Field) -> str:
    if isinstance(fld, models.BooleanField):
        return BOOL
    if isinstance(fld, models.DateTimeField):
        return DATETIME
    if isinstance(fld, models.DateField):
        return DATE
    if isinstance(fld, models.DecimalField):
        return DECIMAL
    if isinstance(fld, models.FloatField):
        return FLOAT
    if isinstance(fld, models.IntegerField | models.AutoField) and not fld.choices:
        return INT
    return TEXT


@dataclass(frozen=True)
class ExportType:
    key: str
    label: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    # Field paths a caller may filter on (the admin passes its changelist filters).
    filters: tuple[str, ...] = ()
    sheet_title: str = ""
    file_stem: str = field(default="")

    @cached_property
    def resolved(self) -> tuple[ResolvedColumn, ...]:
        out = []
        for col in self.columns:
            fld = resolve_field(self.model, col.path)
            kind = field_kind(fld)
            choices = dict(fld.flatchoices) if fld.choices else None
            fmt = col.number_format or DEFAULT_FORMATS.get(kind)
            is_str = isinstance(fld, models.CharField | models.TextField)
            out.append(ResolvedColumn(col.path, col.header, kind, fmt, choices, is_str))
        return tuple(out)

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.columns]

    @property
    def title(self) -> str:
        """The worksheet name, by Excel's rule (which exports.xlsx.sheet_title owns)."""
        from exports.xlsx import sheet_title  # here: exports.xlsx imports this module

        return sheet_title(self.sheet_title or self.label)

    @property
    def stem(self) -> str:
        return self.file_stem or f"{self.key}-claims"


_CAR = (
    Column("car__make", "Make"),
    Column("car__model", "Model"),
    Column("car__year", "Year"),
    Column("car__plate", "Plate"),
    Column("car__vin", "VIN"),
)
_HEAD = (
    Column("number", "Claim number"),
    Column("status", "Status"),
    Column("customer_name", "Customer"),
    Column("customer_email", "Email"),
)
_TAIL = (
    Column("amount", "Amount"),
    Column("description", "Description"),
    Column("created_at", "Created at"),
)
_FILTERS = ("status", "created_at", "amount", "car__make", "car__year", "customer_email")

EXPORT_TYPES: dict[str, ExportType] = {
    t.key: t
    for t in (
        ExportType(
            key="accident", label="Accident claims", model=AccidentClaim,
            columns=(*_HEAD, *_CAR, *_TAIL, Column("occurred_at", "Occurred at"),
                     Column("location", "Location"),
                     Column("police_involved", "Police involved")),
            filters=(*_FILTERS, "occurred_at", "police_involved"),
        ),
        ExportType(
            key="theft", label="Theft claims", model=TheftClaim,
            columns=(*_HEAD, *_CAR, *_TAIL, Column("stolen_at", "Stolen at"),
                     Column("police_report", "Police report"), Column("recovered", "Recovered")),
            filters=(*_FILTERS, "stolen_at", "recovered"),
        ),
        ExportType(
            key="warranty", label="Warranty claims", model=WarrantyClaim,
            columns=(*_HEAD, *_CAR, *_TAIL, Column("part", "Part"),
                     Column("mileage_km", "Mileage (km)", "#,##0"),
                     Column("purchase_date", "Purchase date")),
            filters=(*_FILTERS, "part", "mileage_km", "purchase_date"),
        ),
    )
}


def export_type(key: str) -> ExportType:
    """The entry for `key`; raise KeyError when unknown."""
    return EXPORT_TYPES[key]
