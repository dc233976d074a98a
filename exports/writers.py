"""File writers behind one interface: `write_rows(rows)`, `close()`, `abort()`.

`open_writer(fmt, path, ...)` picks the engine: the streaming writer in exports/xlsx.py (default),
openpyxl's write-only mode (`EXPORT_XLSX_ENGINE=openpyxl`), or CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import tzinfo

from exports.pipeline import Behind
from exports.registry import BOOL, DATE, DATETIME, DECIMAL, FLOAT, INT, TEXT, ResolvedColumn
from exports.xlsx import (
    HEADER_FILL,
    MAX_SHEET_ROWS,
    WRITE_BEHIND,
    XlsxWriter,
    numbered_sheet_title,
    sheet_title,
    wall_clock,
)
from exports.xlsx_parts import excel_number_text, excel_text
from realtime_site.csv_text import FORMULA_START, RISKY, csv_text

FORMATS = ("xlsx", "csv")
MIN_WIDTH, MAX_WIDTH = 6.0, 60.0
# Text a spreadsheet would run as a formula (OWASP "CSV injection"): a customer named
# "=HYPERLINK(...)" must arrive as text. The fast writer types every cell (inlineStr); openpyxl
# turns any str starting with "=" into a formula; CSV: realtime_site/csv_text.py.
_FIXED_WIDTH = {DATE: 10, DATETIME: 16, BOOL: 5}


def column_widths(columns: Sequence[ResolvedColumn], sample: Iterable[Sequence[object]]
                  ) -> list[float]:
    """Widths from the headers and a sample of rows (docs/architecture.md, trap 9: known
    before row one)."""
    widths = [len(c.header) + 3.0 for c in columns]  # + room for the autofilter arrow
    for values in sample:
        for i, (col, value) in enumerate(zip(columns, values, strict=False)):
            if value is None:
                continue
            if col.kind in _FIXED_WIDTH:
                n = _FIXED_WIDTH[col.kind]
            elif col.kind in (DECIMAL, FLOAT):
                n = len(f"{value:,.2f}")
            elif col.kind == INT:
                n = len(f"{value:,}")
            else:
                text = col.choices.get(value, value) if col.choices else value
                n = len(str(text))
            if n + 2 > widths[i]:
                widths[i] = n + 2.0
    return [min(MAX_WIDTH, max(MIN_WIDTH, w)) for w in widths]


def zone_headers(columns: Sequence[ResolvedColumn], zone: str) -> tuple[ResolvedColumn, ...]:
    """The columns with each date/time header naming the zone its values are written in:
    "Created at (Europe/Paris)". A cell holds no zone (wall_clock drops it), so without
    this a reader could not tell UTC from local time. Dates (no time) name none."""
    return tuple(replace(c, header=f"{c.header} ({zone})") if c.kind == DATETIME else c
                 for c in columns)


def _csv_any(value: object) -> object:
    return csv_text(value) if isinstance(value, str) else value


def csv_labels(choices: dict) -> dict:
    """Choice labels as CSV text, guarded like any text (a label is text a spreadsheet could
    run too); lazy labels are translated here, at the export's language."""
    return {key: csv_text(str(label)) for key, label in choices.items()}


def _converters(columns: Sequence[ResolvedColumn], tz: tzinfo | None, *, text: bool
                ) -> list[Callable[[object], object] | None]:
    """Per column: a function that makes a DB value writable (None: keep it as it is)."""
    out: list[Callable[[object], object] | None] = []
    for col in columns:
        if col.choices and text:
            labels = csv_labels(col.choices)
            out.append(lambda v, ch=labels: ch[v] if v in ch else _csv_any(v))
        elif col.choices:
            out.append(lambda v, ch=col.choices: ch.get(v, v))
        elif text and col.kind == TEXT:
            out.append(lambda v: csv_text(v) if isinstance(v, str) else v)
        elif col.kind == DATETIME:
            if text:
                out.append(lambda v: wall_clock(v, tz).isoformat(sep=" ") if v is not None else v)
            else:
                out.append(lambda v: wall_clock(v, tz) if v is not None else v)
        else:
            out.append(None)
    return out


class OpenpyxlWriter:
    """openpyxl write-only mode (lxml when installed): the reference engine. It keeps the fast
    writer's rules: the same text (excel_text), numbers Excel cannot hold as text, and a new
    sheet, "<title> (2)", every `max_rows` data rows."""

    def __init__(self, path: str, *, title: str, columns: Sequence[ResolvedColumn],
                 widths: Sequence[float], tz: tzinfo | None = None,
                 max_rows: int = MAX_SHEET_ROWS, **_ignored) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font, PatternFill
        from openpyxl.utils import get_column_letter

        if not 1 <= max_rows <= MAX_SHEET_ROWS:
            raise ValueError(f"max_rows must be 1..{MAX_SHEET_ROWS:,}, not {max_rows:,}")
        self.path = path
        self.columns = list(columns)
        self.title = sheet_title(title)
        self.max_rows = max_rows
        self.widths = list(widths)
        self.wb = Workbook(write_only=True)
        self._cell = WriteOnlyCell
        self._letter = get_column_letter
        self._header_style = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL)
        self._convert = [self._converter(c, tz) for c in self.columns]
        # Only cells with a number format need a styled cell object: they cost ~3x a plain value.
        self._formats = [c.number_format if c.kind in (DECIMAL, INT, FLOAT, DATE, DATETIME)
                         else None for c in self.columns]
        self.rows_written = 0
        self._last_col = get_column_letter(len(self.columns))
        self._sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        if self._sheets:  # the finished sheet's autofilter, over its own rows
            self.ws.auto_filter.ref = f"A1:{self._last_col}{self._sheet_rows + 1}"
        self._sheets += 1
        self.ws = self.wb.create_sheet(title=numbered_sheet_title(self.title, self._sheets))
        self._sheet_rows = 0
        # docs/architecture.md, trap 9: widths and the frozen pane before the first row, or
        # they are ignored.
        for i, width in enumerate(self.widths, 1):
            self.ws.column_dimensions[self._letter(i)].width = width
        self.ws.freeze_panes = "A2"
        bold, fill = self._header_style
        header = []
        for col in self.columns:
            cell = self._cell(self.ws, value=excel_text(col.header))
            cell.font, cell.fill = bold, fill
            header.append(cell)
        self.ws.append(header)

    def _converter(self, col: ResolvedColumn, tz: tzinfo | None
                   ) -> Callable[[object], object] | None:
        if col.choices:
            return lambda v, ch=col.choices: self._text(ch.get(v, v))
        if col.kind == TEXT:
            return self._text
        if col.kind in (FLOAT, DECIMAL):
            return lambda v: excel_number_text(v) or v
        if col.kind == DATETIME:
            return lambda v: wall_clock(v, tz)
        return None

    def _text(self, value: object) -> object:
        if not isinstance(value, str):
            return value
        # The fast writer's text rules (exports/xlsx.py, excel_text): openpyxl would raise
        # IllegalCharacterError on a control character and leave "_x0041_" to be decoded.
        value = excel_text(value)
        if value[:1] != "=":
            return value
        cell = self._cell(self.ws, value=value)
        cell.data_type = "s"  # openpyxl made it a formula; see FORMULA_START
        return cell

    def write_rows(self, rows: Iterable[Sequence[object]]) -> int:
        cell_cls, convert, formats = self._cell, self._convert, self._formats
        n = 0
        for values in rows:
            if self._sheet_rows >= self.max_rows:
                self._new_sheet()
            ws = self.ws
            out = []
            for value, conv, fmt in zip(values, convert, formats, strict=False):
                if conv is not None and value is not None:
                    value = conv(value)
                if fmt and value is not None and not isinstance(value, str):  # text: NaN, inf
                    cell = cell_cls(ws, value=value)
                    cell.number_format = fmt
                    value = cell
                out.append(value)
            ws.append(out)
            self._sheet_rows += 1
            n += 1
        self.rows_written += n
        return n

    def close(self) -> None:
        self.ws.auto_filter.ref = f"A1:{self._last_col}{self._sheet_rows + 1}"
        self.wb.save(self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the caller deletes the file
            self.wb.close()


def csv_row_function(columns: Sequence[ResolvedColumn], tz: tzinfo | None
                     ) -> Callable[[Sequence[object]], tuple]:
    """Generate `row(values) -> tuple`, the CSV spelling of `_converters(..., text=True)` in
    one expression: a Python call per text cell (the formula guard) made CSV slower than the
    xlsx (1,000,000 rows, SQLite: 18.4 s against 16.8 s)."""
    namespace: dict = {"_F": FORMULA_START, "_str": str,  # isinstance(v, _str): any type
                       "_risky": RISKY, "_guard": csv_text, "_any": _csv_any}
    cells = []
    for i, col in enumerate(columns):
        v = f"v{i}"
        if col.choices:
            namespace[f"ch{i}"] = csv_labels(col.choices)
            cells.append(f"(None if {v} is None else ch{i}[{v}] if {v} in ch{i} else _any({v}))")
        elif col.kind == TEXT:
            # csv_text, only called for text that needs it (one search, in C, otherwise).
            cells.append(f"(_guard({v}) if isinstance({v}, _str) and ({v}[:1] in _F "
                         f"or _risky({v})) else {v})")
        elif col.kind == DATETIME:
            namespace[f"dt{i}"] = lambda v, tz=tz: wall_clock(v, tz).isoformat(sep=" ")
            cells.append(f"(None if {v} is None else dt{i}({v}))")
        else:
            cells.append(v)
    names = ", ".join(f"v{i}" for i in range(len(columns))) + ("," if len(columns) == 1 else "")
    source = f"def row(values):\n    {names} = values\n    return ({', '.join(cells)},)\n"
    exec(compile(source, "<csv-row>", "exec"), namespace)  # noqa: S102 - source built above
    return namespace["row"]


class CsvWriter:
    """UTF-8 with a BOM (so Excel detects the encoding), ISO dates, plain decimals.

    Each batch is formatted into one string by the csv module and encoded at once; with
    `background=True` a thread writes it to the file (exports/pipeline.py) while this one
    formats the next.
    """

    def __init__(self, path: str, *, columns: Sequence[ResolvedColumn], tz: tzinfo | None = None,
                 background: bool = False, **_ignored) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close() or abort()
        self._file.write("\ufeff".encode())
        self._buffer = io.StringIO(newline="")
        self._csv = csv.writer(self._buffer)
        self._csv.writerow([c.header for c in columns])
        self._convert = csv_row_function(columns, tz)
        self._plain = all(c is None for c in _converters(columns, tz, text=True))
        self._behind = (Behind(self._file.write, depth=WRITE_BEHIND, name="export-csv-write")
                        if background else None)
        self._write = self._behind.put if self._behind else self._file.write
        self.rows_written = 0

    def write_rows(self, rows: Iterable[Sequence[object]]) -> int:
        batch = list(rows) if self._plain else list(map(self._convert, rows))
        self._csv.writerows(batch)
        self._write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()
        self.rows_written += len(batch)
        return len(batch)

    def close(self) -> None:
        if self._buffer.tell():  # the header of an export without rows
            self._write(self._buffer.getvalue().encode())
        if self._behind is not None:
            self._behind.close()
        self._file.close()

    def abort(self) -> None:
        if self._behind is not None:
            self._behind.abort()
        self._file.close()


def open_writer(fmt: str, path: str, *, engine: str, title: str,
                columns: Sequence[ResolvedColumn], widths: Sequence[float], tz: tzinfo | None,
                compresslevel: int = 1, background: bool = False,
                max_rows: int = MAX_SHEET_ROWS):
    """The writer for a format and (for xlsx) an engine: "fast" or "openpyxl".

    `background`: deflate/write in a thread of its own (the fast engine and CSV; openpyxl
    writes its zip only at close, and its per-cell objects leave nothing to overlap).
    `max_rows`: data rows per xlsx sheet before the next one (CSV has no limit)."""
    if fmt == "csv":
        return CsvWriter(path, columns=columns, tz=tz, background=background)
    if fmt != "xlsx":
        raise ValueError(f"unknown format {fmt!r}")
    if engine == "openpyxl":
        return OpenpyxlWriter(path, title=title, columns=columns, widths=widths, tz=tz,
                              max_rows=max_rows)
    if engine != "fast":
        raise ValueError(f"EXPORT_XLSX_ENGINE={engine!r}: use 'fast' or 'openpyxl'")
    return XlsxWriter(path, title=title, columns=columns, widths=widths, tz=tz,
                      compresslevel=compresslevel, background=background, max_rows=max_rows)
