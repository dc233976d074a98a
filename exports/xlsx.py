"""A small streaming xlsx writer: inline strings, a styled header, typed columns, and a new
sheet past Excel's row limit.

Why not openpyxl: its write-only mode builds a Cell object and an lxml element per cell, about
20 µs per cell here (bench/export.py has the profile); the goal of a million rows in a minute
leaves ~4 µs per cell for reading *and* writing. An xlsx is a zip of a few XML parts: this
module generates each row with one compiled function and streams the sheet into the zip, so
memory stays flat whatever the row count. openpyxl reads the result back in the tests.
"""

from __future__ import annotations

import contextlib
import itertools
import linecache
import math
import re
import weakref
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, tzinfo
from functools import partial
from typing import IO
from xml.sax.saxutils import escape

from exports.pipeline import Behind
from exports.registry import BOOL, DATE, DATETIME, DECIMAL, FLOAT, INT, TEXT, ResolvedColumn
from exports.xlsx_parts import (
    _MAX_DECIMAL,
    _NEEDS_WORK,
    _SURE_FITS,
    MAX_NUMBER,
    SHEET_TAIL,
    _reference_excel_text,
    excel_text,
    sheet_count_parts,
    sheet_head,
    static_parts,
    styles_xml,
    workbook_xml,
)

MAX_SHEET_ROWS = 1_048_575  # data rows per sheet: Excel's 1,048,576 rows, less the header
EXCEL_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()
# Batches (EXPORT_CHUNK_SIZE rows, ~1.7 MB of XML at 2,000) queued for the deflate thread.
WRITE_BEHIND = 2
# A sheet part is opened without zip64 (Excel is picky about zip64 it does not need, see
# Apache POI bug 57342) and zipfile refuses to close such a part past ZIP64_LIMIT. The writer
# counts the bytes it hands over and starts the next sheet before a part could get there
# (deflate can grow data by ~0.03%; the margin also covers the sheet's tail). zipfile itself
# writes zip64 end records when the archive as a whole, as written, needs them.
MAX_PART_BYTES = zipfile.ZIP64_LIMIT - (16 << 20)
_TAIL_ROOM = 512  # the sheet's end: </sheetData>, autoFilter, pageMargins

HEADER_FILL = "FFDDEBF7"
SHEET_TITLE_MAX = 31  # Excel's limit
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
_row_function_ids = itertools.count(1)
_NOT_WORD = re.compile(r"[^\w-]+")
_combine = datetime.combine


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text_cell(value: object, ref: str) -> str:
    """An inline-string cell, escaped; the rare slow path handles odd characters and spaces."""
    s = value if isinstance(value, str) else str(value)
    if not (_NEEDS_WORK.search(s) is None and s.strip() == s and len(s) <= _SURE_FITS):
        s = escape(excel_text(s))
        if s.strip() != s:
            return ('<c r="' + ref + '" t="inlineStr"><is><t xml:space="preserve">' + s
                    + "</t></is></c>")
    return '<c r="' + ref + '" t="inlineStr"><is><t>' + s + "</t></is></c>"


def sheet_title(title: str) -> str:
    """The one place for Excel's sheet-name rule: at most 31 characters, none of []:*?/\\,
    not blank. Cut first, then strip (so no trailing space is left by the cut)."""
    cleaned = _SHEET_TITLE_BAD.sub(" ", title[:SHEET_TITLE_MAX]).strip()
    return cleaned or "Sheet1"


def site_time(value: datetime, tz: tzinfo | None) -> datetime:
    """docs/architecture.md, trap 10: a datetime is shown at the site's wall clock. An aware
    value is converted to `tz` (the fields of the result, day to microsecond, are what a cell
    shows); naive values are taken as already local. The xlsx serial reads only those fields;
    `wall_clock` also drops the tzinfo."""
    if value.tzinfo is not None and tz is not None:
        return value.astimezone(tz)
    return value


def wall_clock(value: datetime, tz: tzinfo | None) -> datetime:
    """`site_time` without tzinfo: what openpyxl and CSV are given (a cell has no time zone)."""
    value = site_time(value, tz)
    if value.tzinfo is None:
        return value
    # = value.replace(tzinfo=None) (fold kept too), ~100 ns instead of ~600 ns on 3.11
    return _combine(value.date(), value.time())


def _serial_date(value: date) -> int:
    return value.toordinal() - EXCEL_EPOCH_ORDINAL


def compile_row_function(columns: Sequence[ResolvedColumn], styles: dict[str | None, int],
                         tz: tzinfo | None, *, name: str = "sheet"):
    """Generate `row(n, values) -> str`: one <row> element, one expression, no per-cell calls
    for numbers. A generated function is ~2x faster than a loop over per-column converters.
    The cells are joined in one `"".join` of a tuple, not chained with `+`: every `+` copied
    the row so far (~45 copies of up to ~850 characters a row); the join copies each cell once
    (accident claims, 100,000 rows built and encoded: 0.81 -> 0.74 s).
    `reference_row_xml` below is the plain spelling of the same output (the tests compare them).

    The source is registered in linecache under a unique `<xlsx-row-NAME-N>` filename, one cell
    per line, so a traceback from inside it shows the failing column's expression; the entry
    is dropped when the function is garbage-collected."""
    namespace: dict = {"_text": _text_cell, "_plain": _NEEDS_WORK.search, "_sdate": _serial_date,
                       "_tz": tz, "_str": str, "_repr": repr, "_join": "".join,
                       "_dmax": _MAX_DECIMAL}
    parts = []
    names = []
    for i, col in enumerate(columns):
        v = f"v{i}"
        names.append(v)
        s = styles.get(col.number_format, 0)
        # Every cell carries its reference (r="C7"): optional in the schema, but readers
        # that place cells by counting are the exception, and None cells can then be left out.
        ref = f"'{col_letter(i)}' + r"
        open_ = f"'<c r=\"{col_letter(i)}' + r + '\"" + (f' s=\"{s}\"' if s else "")
        if col.choices:
            # Each label's cell, after its reference, made once instead of a _text() call
            # per cell; other values, and lazy labels, take _text().
            namespace[f"ch{i}"] = col.choices
            namespace[f"cx{i}"] = {key: _text_cell(label, "")[len('<c r="'):]
                                   for key, label in col.choices.items()
                                   if isinstance(label, str)}
            expr = (f"('<c r=\"{col_letter(i)}' + r + x{i} if (x{i} := cx{i}.get({v})) is not None "
                    f"else _text(ch{i}.get({v}, {v}), {ref}))")
        elif col.kind == TEXT and col.is_str:
            # Inline fast path (no Python call per cell; the profile showed the call itself as
            # the top cost): plain text goes straight in, anything odd takes _text().
            expr = (f"({open_} t=\"inlineStr\"><is><t>' + {v} + '</t></is></c>' "
                    f"if _plain({v}) is None and {v}.strip() == {v} "
                    f"and len({v}) <= {_SURE_FITS} "
                    f"else _text({v}, {ref}))")
        elif col.kind == TEXT:
            expr = f"_text({v}, {ref})"
        elif col.kind == BOOL:
            expr = f"({open_} t=\"b\"><v>' + ('1' if {v} else '0') + '</v></c>')"
        elif col.kind == INT:
            expr = f"{open_}><v>' + _str({v}) + '</v></c>'"
        elif col.kind == DECIMAL:
            # NaN and infinity (PostgreSQL numeric has both) would make an invalid file;
            # is_finite() first: ordering a NaN Decimal raises.
            expr = (f"({open_}><v>' + _str({v}) + '</v></c>' if {v}.is_finite() "
                    f"and -_dmax < {v} < _dmax else _text(_str({v}), {ref}))")
        elif col.kind == FLOAT:
            expr = (f"({open_}><v>' + _repr({v}) + '</v></c>' "
                    f"if -{MAX_NUMBER!r} < {v} < {MAX_NUMBER!r} else _text(_repr({v}), {ref}))")
        elif col.kind == DATE:
            expr = f"{open_}><v>' + _str(_sdate({v})) + '</v></c>'"
        elif col.kind == DATETIME:
            # The serial from the wall-clock fields (site_time) inline, not a call per cell:
            # with the choices above, 0.71 -> 0.65 s per 100,000 accident rows.
            w = f"w{i}"
            local = f"({v}.astimezone(_tz) if {v}.tzinfo is not None else {v})" if tz else v
            expr = (f"{open_}><v>' + _repr(({w} := {local}).toordinal() - {EXCEL_EPOCH_ORDINAL}"
                    f" + ({w}.hour * 3600 + {w}.minute * 60 + {w}.second"
                    f" + {w}.microsecond / 1000000) / 86400) + '</v></c>'")
        else:  # pragma: no cover - registry kinds are closed
            raise ValueError(col.kind)
        # The comment is for tracebacks; repr() keeps any line break out of it.
        parts.append(f"        ('' if {v} is None else {expr}),  # {col_letter(i)} {col.path!r}\n")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = (
        f"def row(n, values):\n"
        f"    {unpack} = values\n"
        f"    r = _str(n)\n"
        f"    return _join(('<row r=\"', r, '\">',\n"
        + "".join(parts)
        + "        '</row>'))\n"
    )
    filename = f"<xlsx-row-{_NOT_WORD.sub('_', name)}-{next(_row_function_ids)}>"
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - source built above
    row = namespace["row"]
    # mtime None: linecache.checkcache() keeps the entry (it only re-stats real files).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(row, linecache.cache.pop, filename, None)
    return row


def _reference_text_cell(ref: str, text: str) -> str:
    kept = _reference_excel_text(text)
    kept = kept.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if kept.strip() != kept else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{kept}</t></is></c>'


def reference_row_xml(n: int, values: Sequence[object], columns: Sequence[ResolvedColumn],
                      styles: dict[str | None, int], tz: tzinfo | None) -> str:
    """What `compile_row_function(columns, styles, tz)(n, values)` returns, one cell at a time.
    Slow; the spec the generated code is tested against, not used when writing files."""
    cells = []
    for i, (col, value) in enumerate(zip(columns, values, strict=True)):
        if value is None:  # an empty cell is left out (every cell carries its r=)
            continue
        ref = f"{col_letter(i)}{n}"
        style = styles.get(col.number_format, 0)
        open_ = f'<c r="{ref}"' + (f' s="{style}"' if style else "")
        if col.choices or col.kind == TEXT:
            label = col.choices.get(value, value) if col.choices else value
            cell = _reference_text_cell(ref, str(label))  # text cells carry no style
        elif col.kind == BOOL:
            cell = f'{open_} t="b"><v>{1 if value else 0}</v></c>'
        elif col.kind == INT:
            cell = f"{open_}><v>{value!s}</v></c>"
        elif col.kind == DECIMAL:
            if value.is_finite() and abs(value) < _MAX_DECIMAL:
                cell = f"{open_}><v>{value!s}</v></c>"
            else:  # NaN, infinity, past Excel's range: text, as the CSV spells it
                cell = _reference_text_cell(ref, str(value))
        elif col.kind == FLOAT:
            if math.isfinite(value) and abs(value) < MAX_NUMBER:
                cell = f"{open_}><v>{value!r}</v></c>"
            else:
                cell = _reference_text_cell(ref, repr(value))
        elif col.kind == DATE:
            cell = f"{open_}><v>{value.toordinal() - EXCEL_EPOCH_ORDINAL}</v></c>"
        elif col.kind == DATETIME:
            local = wall_clock(value, tz)
            days = local.toordinal() - EXCEL_EPOCH_ORDINAL
            seconds = (local.hour * 3600 + local.minute * 60 + local.second
                       + local.microsecond / 1_000_000)
            cell = f"{open_}><v>{days + seconds / 86400!r}</v></c>"
        else:
            raise ValueError(col.kind)
        cells.append(cell)
    return f'<row r="{n}">' + "".join(cells) + "</row>"


def numbered_sheet_title(title: str, number: int) -> str:
    """The title of an export's `number`th sheet: `title` itself, then "<title> (2)"... cut
    so that the suffix stays within Excel's 31 characters (and differs from `title`)."""
    if number == 1:
        return title
    suffix = f" ({number})"
    base = title[:SHEET_TITLE_MAX - len(suffix)].rstrip()
    if (base + suffix).casefold() == title.casefold():  # a title that ends in " (2)" itself
        base = base[:-1].rstrip()
    return base + suffix


class XlsxWriter:
    """Stream worksheets into an xlsx file: header first, then rows in batches, then close().

    Past `max_rows` data rows (Excel's 1,048,575 below its header) the rows continue on a
    new sheet with the same header and widths, "<title> (2)", and so on; also before a sheet
    part would pass `max_part_bytes` (see MAX_PART_BYTES), which only rows far larger than
    any claim's reach. `sheets` lists (title, last cell) of the finished sheets.

    `background=True` deflates and writes in a thread of its own (exports/pipeline.py), at
    most WRITE_BEHIND batches behind `write_rows`: zlib, crc32 and the file write release the
    GIL, so the second core deflates one batch while this thread builds the next. Only that
    thread touches the zip while it runs: ending one sheet part and opening the next are
    queued to it, in order with the rows.
    """

    def __init__(self, path_or_file: str | IO[bytes], *, title: str,
                 columns: Sequence[ResolvedColumn], widths: Sequence[float],
                 tz: tzinfo | None = None, compresslevel: int = 1,
                 header_fill: str = HEADER_FILL, background: bool = False,
                 max_rows: int = MAX_SHEET_ROWS, max_part_bytes: int = MAX_PART_BYTES) -> None:
        if not 1 <= max_rows <= MAX_SHEET_ROWS:
            raise ValueError(f"max_rows must be 1..{MAX_SHEET_ROWS:,}, not {max_rows:,}")
        self.columns = list(columns)
        self.title = sheet_title(title)
        self.max_rows = max_rows
        self.max_part_bytes = max_part_bytes
        formats = sorted({c.number_format for c in self.columns if c.number_format})
        # cellXfs: 0 default, 1 header, then one per number format.
        self.styles: dict[str | None, int] = {fmt: 2 + i for i, fmt in enumerate(formats)}
        self.formats = formats
        self._row_xml = compile_row_function(self.columns, self.styles, tz, name=self.title)
        self.rows_written = 0
        self.sheets: list[tuple[str, str]] = []
        self._zip = zipfile.ZipFile(path_or_file, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=compresslevel)
        for name, xml in static_parts(styles_xml(formats, header_fill)):
            self._zip.writestr(name, xml)
        header = "".join(
            f'<c r="{col_letter(i)}1" s="1" t="inlineStr"><is><t>{escape(excel_text(c.header))}'
            "</t></is></c>"
            for i, c in enumerate(self.columns)
        )
        self._heads = (sheet_head(widths, header).encode(),
                       sheet_head(widths, header, selected=False).encode())
        self._sheet: IO[bytes] | None = None
        self._sheet_rows = 0  # data rows on the current sheet
        self._sheet_bytes = 0  # uncompressed bytes handed over for the current sheet part
        self._write = self._sink
        self._start_sheet()  # here, before the deflate thread exists
        self._behind = (Behind(self._sink, depth=WRITE_BEHIND, name="export-deflate")
                        if background else None)
        if self._behind is not None:
            self._write = self._behind.put
        self._closed = False

    # --- public ---------------------------------------------------------------------------
    def write_rows(self, rows: Iterable[Sequence[object]]) -> int:
        """Append rows (raw values as the database returns them); returns how many."""
        if not isinstance(rows, list | tuple):
            rows = list(rows)
        done = 0
        while done < len(rows):
            if self._sheet_rows >= self.max_rows:
                self._end_sheet()
                self._start_sheet()
            room = self.max_rows - self._sheet_rows
            piece = rows if done == 0 and len(rows) <= room else rows[done:done + room]
            self._put(piece)
            done += len(piece)
        return len(rows)

    def close(self) -> None:
        """Finish the last sheet and write the parts that depend on the sheets."""
        if self._closed:
            return
        self._closed = True
        self._end_sheet()
        if self._behind is not None:
            self._behind.close()  # everything written; raises the deflate thread's error
        self._zip.writestr("xl/workbook.xml", workbook_xml(self.sheets))
        for name, xml in sheet_count_parts(len(self.sheets)):
            self._zip.writestr(name, xml)
        self._zip.close()

    def abort(self) -> None:
        """Stop the deflate thread and close handles without finishing (the caller deletes the
        file)."""
        self._closed = True
        if self._behind is not None:
            self._behind.abort()
        with contextlib.suppress(Exception):  # best effort: the file is about to be deleted
            if self._sheet is not None:
                self._sheet.close()
            self._zip.close()

    # --- sheets ---------------------------------------------------------------------------
    def _build(self, rows: Sequence[Sequence[object]], first: int) -> bytes:
        # Encoded row by row: one emoji in a batch made the joined str 4 bytes a character
        # and its encode slower (0.86 -> 0.81 s per 100,000 rows); map() instead of a
        # comprehension over enumerate(): 0.74 -> 0.68 s.
        return b"".join([xml.encode() for xml in map(self._row_xml,
                                                      range(first, first + len(rows)), rows)])

    def _put(self, rows: Sequence[Sequence[object]]) -> None:
        """Rows that fit the current sheet's row limit; the byte limit is checked here."""
        data = self._build(rows, self._sheet_rows + 2)  # row 1 is the header
        if self._sheet_bytes + len(data) + _TAIL_ROOM > self.max_part_bytes:
            if self._sheet_rows:  # the rest on the next sheet, renumbered from row 2
                self._end_sheet()
                self._start_sheet()
                data = self._build(rows, 2)
            if self._sheet_bytes + len(data) + _TAIL_ROOM > self.max_part_bytes:
                if len(rows) == 1:
                    raise ValueError(f"one row of {len(data):,} bytes is past the sheet "
                                     f"part limit of {self.max_part_bytes:,} bytes")
                half = len(rows) // 2
                self._put(rows[:half])
                self._put(rows[half:])
                return
        if rows:
            self._write(data)
            self._sheet_bytes += len(data)
            self._sheet_rows += len(rows)
            self.rows_written += len(rows)

    def _start_sheet(self) -> None:
        number = len(self.sheets) + 1
        self._write(partial(self._open_part, f"xl/worksheets/sheet{number}.xml"))
        head = self._heads[0 if number == 1 else 1]
        self._write(head)
        self._sheet_rows = 0
        self._sheet_bytes = len(head)

    def _end_sheet(self) -> None:
        title = numbered_sheet_title(self.title, len(self.sheets) + 1)
        last = f"{col_letter(len(self.columns) - 1)}{self._sheet_rows + 1}"
        self.sheets.append((title, last))
        self._write(f'</sheetData><autoFilter ref="A1:{last}"/>{SHEET_TAIL}'.encode())
        self._write(self._close_part)

    # What the deflate thread (or this one, without it) runs, in order: bytes for the open
    # part, or a call that ends it or opens the next.
    def _sink(self, item: bytes | Callable[[], None]) -> None:
        if type(item) is bytes:
            self._sheet.write(item)
        else:
            item()

    def _open_part(self, name: str) -> None:
        self._sheet = self._zip.open(name, "w")  # no zip64: see MAX_PART_BYTES

    def _close_part(self) -> None:
        self._sheet.close()
