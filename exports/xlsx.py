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
from xml.sax.saxutils import escape, quoteattr

from exports.registry import BOOL, DATE, DATETIME, DECIMAL, FLOAT, INT, TEXT, ResolvedColumn

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


def _make_serial_datetime(tz: tzinfo | None):
    def serial(value: datetime) -> str:
        value = site_time(value, tz)  # its fields; the tzinfo is not read
        seconds = (value.hour * 3600 + value.minute * 60 + value.second
                   + value.microsecond / 1_000_000)
        return repr(value.toordinal() - EXCEL_EPOCH_ORDINAL + seconds / 86400)

    return serial


def compile_row_function(columns: Sequence[ResolvedColumn], styles: dict[str | None, int],
                         tz: tzinfo | None, *, name: str = "sheet"):
    """Generate `row(n, values) -> str`: one <row> element, one expression, no per-cell calls
    for numbers. A generated function is ~2x faster than a loop over per-column converters.
    `reference_row_xml` below is the plain spelling of the same output (the tests compare them).

    The source is registered in linecache under a unique `<xlsx-row-NAME-N>` filename, one cell
    per line, so a traceback from inside it shows the failing column's expression; the entry
    is dropped when the function is garbage-collected."""
    namespace: dict = {"_text": _text_cell, "_plain": _NEEDS_WORK.search, "_sdate": _serial_date,
                       "_sdt": _make_serial_datetime(tz), "_str": str, "_repr": repr}
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
            namespace[f"ch{i}"] = col.choices
            expr = f"_text(ch{i}.get({v}, {v}), {ref})"
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
            expr = f"{open_}><v>' + _sdt({v}) + '</v></c>'"
        else:  # pragma: no cover - registry kinds are closed
            raise ValueError(col.kind)
        # The comment is for tracebacks; repr() keeps any line break out of it.
        parts.append(f"        + ('' if {v} is None else {expr})  # {col_letter(i)} {col.path!r}\n")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = (
        f"def row(n, values):\n"
        f"    {unpack} = values\n"
        f"    r = _str(n)\n"
        f"    return ('<row r=\"' + r + '\">'\n"
        + "".join(parts)
        + "        + '</row>')\n"
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
    """Stream one worksheet into an xlsx file: header first, then rows in batches, then close()."""

    def __init__(self, path_or_file: str | IO[bytes], *, title: str,
                 columns: Sequence[ResolvedColumn], widths: Sequence[float],
                 tz: tzinfo | None = None, expected_rows: int = 0, compresslevel: int = 1,
                 header_fill: str = HEADER_FILL) -> None:
        self.columns = list(columns)
        self.title = sheet_title(title)
        formats = sorted({c.number_format for c in self.columns if c.number_format})
        # cellXfs: 0 default, 1 header, then one per number format.
        self.styles: dict[str | None, int] = {fmt: 2 + i for i, fmt in enumerate(formats)}
        self.formats = formats
        self.header_fill = header_fill
        self._row_xml = compile_row_function(self.columns, self.styles, tz, name=self.title)
        self.rows_written = 0
        self._zip = zipfile.ZipFile(path_or_file, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=compresslevel)
        for name, xml in self._static_parts():
            self._zip.writestr(name, xml)
        big = expected_rows * max(1, len(self.columns)) * _EST_BYTES_PER_CELL > _ZIP64_SAFE_BYTES
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=big)
        self._sheet.write(self._sheet_head(widths).encode())
        self._closed = False

    # --- public ---------------------------------------------------------------------------
    def write_rows(self, rows: Iterable[Sequence[object]]) -> int:
        """Append rows (raw values as the database returns them); returns how many."""
        row_xml = self._row_xml
        start = self.rows_written + 2  # row 1 is the header
        chunk = [row_xml(n, values) for n, values in enumerate(rows, start)]
        if chunk:
            self._sheet.write("".join(chunk).encode())
            self.rows_written += len(chunk)
        return len(chunk)

    def close(self) -> None:
        """Finish the sheet and write the parts that depend on the row count."""
        if self._closed:
            return
        self._closed = True
        last = f"{col_letter(len(self.columns) - 1)}{self.rows_written + 1}"
        self._sheet.write(f'</sheetData><autoFilter ref="A1:{last}"/>'
                          '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                          'header="0.3" footer="0.3"/></worksheet>'.encode())
        self._sheet.close()
        self._zip.writestr("xl/workbook.xml", self._workbook_xml(last))
        self._zip.close()

    def abort(self) -> None:
        """Close handles without finishing (the caller deletes the file)."""
        self._closed = True
        with contextlib.suppress(Exception):  # best effort: the file is about to be deleted
            self._sheet.close()
            self._zip.close()

    # --- parts ----------------------------------------------------------------------------
    def _sheet_head(self, widths: Sequence[float]) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:.2f}" customWidth="1"/>'
            for i, w in enumerate(widths, 1)
        )
        header = "".join(
            f'<c r="{col_letter(i)}1" s="1" t="inlineStr"><is><t>{escape(c.header)}</t></is></c>'
            for i, c in enumerate(self.columns)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/></sheetPr>'
            '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            "</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + f'<sheetData><row r="1">{header}</row>'
        )

    def _static_parts(self) -> list[tuple[str, str]]:
        head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        content_types = (
            head + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            "</Types>"
        )
        rels = (
            head + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>"
        )
        app = (
            head + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>realtime-jobs</Application></Properties>'
        )
        wb_rels = (
            head + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/styles" Target="styles.xml"/></Relationships>'
        )
        return [("[Content_Types].xml", content_types), ("_rels/.rels", rels),
                ("docProps/app.xml", app), ("xl/_rels/workbook.xml.rels", wb_rels),
                ("xl/styles.xml", self._styles_xml())]

    def _styles_xml(self) -> str:
        num_fmts = "".join(
            f'<numFmt numFmtId="{164 + i}" formatCode={quoteattr(fmt)}/>'
            for i, fmt in enumerate(self.formats)
        )
        xfs = "".join(
            f'<xf numFmtId="{164 + i}" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>'
            for i in range(len(self.formats))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + (f'<numFmts count="{len(self.formats)}">{num_fmts}</numFmts>' if num_fmts else "")
            + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="{self.header_fill}"/>'
            '<bgColor indexed="64"/></patternFill></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{2 + len(self.formats)}">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
            'applyFill="1"/>' + xfs + "</cellXfs>"
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )

    def _workbook_xml(self, last: str) -> str:
        name = self.title.replace("'", "''")
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f'<sheets><sheet name={quoteattr(self.title)} sheetId="1" r:id="rId1"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" '
            f'hidden="1">{escape(_abs_range(name, last))}</definedName></definedNames>'
            "</workbook>"
        )


def _abs_range(sheet: str, last: str) -> str:
    m = re.match(r"([A-Z]+)(\d+)", last)
    assert m is not None
    return f"'{sheet}'!$A$1:${m.group(1)}${m.group(2)}"
