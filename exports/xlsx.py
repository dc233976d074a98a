"""A small streaming xlsx writer: one worksheet, inline strings, a styled header, typed columns.

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
import re
import weakref
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import IO
from xml.sax.saxutils import escape

from exports.pipeline import Behind
from exports.registry import BOOL, DATE, DATETIME, DECIMAL, FLOAT, INT, TEXT, ResolvedColumn
from exports.xlsx_parts import SHEET_TAIL, sheet_head, static_parts, styles_xml, workbook_xml

MAX_CELL_CHARS = 32_767  # Excel's limit per cell
EXCEL_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()
# Characters that need escaping or removal. Leading/trailing whitespace (which needs
# xml:space="preserve") is checked with `s.strip() == s` instead of `^\s|\s$` here: the
# anchors made every search ~2.5x slower (416 -> 175 ns per demo text cell).
_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A zip entry past 2 GiB needs zip64 headers, which must be chosen before writing starts.
_ZIP64_SAFE_BYTES = 1_500_000_000
_EST_BYTES_PER_CELL = 60
# Batches (EXPORT_CHUNK_SIZE rows, ~1.7 MB of XML at 2,000) queued for the deflate thread.
WRITE_BEHIND = 2

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
    if _NEEDS_WORK.search(s) is None and s.strip() == s and len(s) <= MAX_CELL_CHARS:
        return '<c r="' + ref + '" t="inlineStr"><is><t>' + s + "</t></is></c>"
    s = escape(ILLEGAL_XML.sub("", s[:MAX_CELL_CHARS]))
    return '<c r="' + ref + '" t="inlineStr"><is><t xml:space="preserve">' + s + "</t></is></c>"


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
                       "_tz": tz, "_str": str, "_repr": repr, "_join": "".join}
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
                    f"and len({v}) <= {MAX_CELL_CHARS} "
                    f"else _text({v}, {ref}))")
        elif col.kind == TEXT:
            expr = f"_text({v}, {ref})"
        elif col.kind == BOOL:
            expr = f"({open_} t=\"b\"><v>' + ('1' if {v} else '0') + '</v></c>')"
        elif col.kind in (INT, DECIMAL):
            expr = f"{open_}><v>' + _str({v}) + '</v></c>'"
        elif col.kind == FLOAT:
            expr = f"{open_}><v>' + _repr({v}) + '</v></c>'"
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


def _is_xml_char(ch: str) -> bool:
    """XML 1.0 `Char`: what may appear in a document at all (even escaped)."""
    c = ord(ch)
    return (c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD
            or 0x10000 <= c <= 0x10FFFF)


def _reference_text_cell(ref: str, text: str) -> str:
    plain = (len(text) <= MAX_CELL_CHARS and text.strip() == text
             and all(_is_xml_char(ch) and ch not in "&<>" for ch in text))
    if plain:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'
    kept = "".join(ch for ch in text[:MAX_CELL_CHARS] if _is_xml_char(ch))
    kept = kept.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{kept}</t></is></c>'


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
        elif col.kind in (INT, DECIMAL):
            cell = f"{open_}><v>{value!s}</v></c>"
        elif col.kind == FLOAT:
            cell = f"{open_}><v>{value!r}</v></c>"
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


class XlsxWriter:
    """Stream one worksheet into an xlsx file: header first, then rows in batches, then close().

    `background=True` deflates and writes in a thread of its own (exports/pipeline.py), at
    most WRITE_BEHIND batches behind `write_rows`: zlib, crc32 and the file write release the
    GIL, so the second core deflates one batch while this thread builds the next.
    """

    def __init__(self, path_or_file: str | IO[bytes], *, title: str,
                 columns: Sequence[ResolvedColumn], widths: Sequence[float],
                 tz: tzinfo | None = None, expected_rows: int = 0, compresslevel: int = 1,
                 header_fill: str = HEADER_FILL, background: bool = False) -> None:
        self.columns = list(columns)
        self.title = sheet_title(title)
        formats = sorted({c.number_format for c in self.columns if c.number_format})
        # cellXfs: 0 default, 1 header, then one per number format.
        self.styles: dict[str | None, int] = {fmt: 2 + i for i, fmt in enumerate(formats)}
        self.formats = formats
        self._row_xml = compile_row_function(self.columns, self.styles, tz, name=self.title)
        self.rows_written = 0
        self._zip = zipfile.ZipFile(path_or_file, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=compresslevel)
        for name, xml in static_parts(styles_xml(formats, header_fill)):
            self._zip.writestr(name, xml)
        big = expected_rows * max(1, len(self.columns)) * _EST_BYTES_PER_CELL > _ZIP64_SAFE_BYTES
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=big)
        header = "".join(
            f'<c r="{col_letter(i)}1" s="1" t="inlineStr"><is><t>{escape(c.header)}</t></is></c>'
            for i, c in enumerate(self.columns)
        )
        self._sheet.write(sheet_head(widths, header).encode())
        self._behind = (Behind(self._sheet.write, depth=WRITE_BEHIND, name="export-deflate")
                        if background else None)
        self._write = self._behind.put if self._behind else self._sheet.write
        self._closed = False

    # --- public ---------------------------------------------------------------------------
    def write_rows(self, rows: Iterable[Sequence[object]]) -> int:
        """Append rows (raw values as the database returns them); returns how many."""
        if not isinstance(rows, list | tuple):
            rows = list(rows)
        start = self.rows_written + 2  # row 1 is the header
        # Encoded row by row: one emoji in a batch made the joined str 4 bytes a character
        # and its encode slower (0.86 -> 0.81 s per 100,000 rows); map() instead of a
        # comprehension over enumerate(): 0.74 -> 0.68 s.
        data = b"".join([xml.encode() for xml in map(self._row_xml,
                                                      range(start, start + len(rows)), rows)])
        if rows:
            self._write(data)
            self.rows_written += len(rows)
        return len(rows)

    def close(self) -> None:
        """Finish the sheet and write the parts that depend on the row count."""
        if self._closed:
            return
        self._closed = True
        if self._behind is not None:
            self._behind.close()  # everything written; raises the deflate thread's error
        last = f"{col_letter(len(self.columns) - 1)}{self.rows_written + 1}"
        self._sheet.write(f'</sheetData><autoFilter ref="A1:{last}"/>{SHEET_TAIL}'.encode())
        self._sheet.close()
        self._zip.writestr("xl/workbook.xml", workbook_xml(self.title, last))
        self._zip.close()

    def abort(self) -> None:
        """Stop the deflate thread and close handles without finishing (the caller deletes the
        file)."""
        self._closed = True
        if self._behind is not None:
            self._behind.abort()
        with contextlib.suppress(Exception):  # best effort: the file is about to be deleted
            self._sheet.close()
            self._zip.close()
