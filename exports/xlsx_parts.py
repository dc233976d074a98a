"""For exports/xlsx.py: Excel's rules for a cell's text and numbers, and the fixed XML parts
of the file (everything but the rows)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

MAX_CELL_CHARS = 32_767  # Excel's limit per cell, in UTF-16 code units (an emoji is 2)
_SURE_FITS = MAX_CELL_CHARS // 2  # this many code points fit, whatever they are
# Excel's largest number is 9.99999999999999E+307: finite numbers at or past 1E+308 (and NaN,
# infinity) are written as text, spelled as the CSV export spells them (excel_number_text).
MAX_NUMBER = 1e308
_MAX_DECIMAL = Decimal("1E+308")
# What XML 1.0 cannot carry at all, even as &#..; (C0 controls but tab and line feed, lone
# surrogates, U+FFFE/U+FFFF): Excel writes these as _xHHHH_ (ECMA-376 ST_Xstring), and so
# does \r, which every XML reader would turn into \n (end-of-line normalisation).
_XML_CANNOT = r"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
# Text that needs more than copying: the above, \r, XML's &<>, and "_" (it may start
# something a reader decodes, _x0041_). Leading/trailing whitespace (xml:space="preserve")
# is checked with `s.strip() == s` instead of `^\s|\s$` here: the anchors made every search
# ~2.5x slower (416 -> 175 ns per demo text cell). One character class, no alternation:
# re then scans for the class in C.
_NEEDS_WORK = re.compile(rf"[&<>_\r{_XML_CANNOT}]")
# A "_" is escaped (_x005F_) where a reader would decode it: before x, four hex digits and a
# "_" - or a character about to be escaped, whose escape starts with "_".
_EXCEL_ESCAPE = re.compile(rf"[\r{_XML_CANNOT}]|_(?=x[0-9A-Fa-f]{{4}}[_\r{_XML_CANNOT}])")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _escape_one(match: re.Match) -> str:
    found = match.group()
    return "_x005F_" if found == "_" else f"_x{ord(found):04X}_"


def cut_to_cell(s: str) -> str:
    """`s` cut to Excel's cell limit, counted as Excel counts: in UTF-16 code units. An astral
    character (2 units) that would straddle the limit is left out whole."""
    if len(s) <= _SURE_FITS:
        return s
    head = s[:MAX_CELL_CHARS]
    astral = len(_ASTRAL.findall(head))
    if not astral:
        return head
    # n code points of head take n + (astral among them) units: start from a prefix that
    # surely fits, then add characters while they do (at most `astral` steps).
    n = MAX_CELL_CHARS - astral
    units = n + len(_ASTRAL.findall(s, 0, n))
    for ch in s[n:]:
        units += 2 if ch > "\uffff" else 1
        if units > MAX_CELL_CHARS:
            break
        n += 1
    return s[:n]


def excel_text(s: str) -> str:
    """A cell's text as it goes into the XML, before &<> escaping: cut to the cell limit,
    then what XML cannot carry (and \r) as _xHHHH_, and a literal "_x0041_" kept literal
    as "_x005F_x0041_" - what Excel writes, and what Excel and LibreOffice decode."""
    return _EXCEL_ESCAPE.sub(_escape_one, cut_to_cell(s))


def excel_number_text(value: float | Decimal) -> str | None:
    """None for a float or Decimal a number cell can hold; else its text (NaN, infinity,
    1E+400), spelled as the CSV export spells it (repr of a float, str of a Decimal). The
    generated row function inlines the same test."""
    if isinstance(value, Decimal):
        return None if value.is_finite() and abs(value) < _MAX_DECIMAL else str(value)
    return None if math.isfinite(value) and abs(value) < MAX_NUMBER else repr(value)


def _is_xml_char(ch: str) -> bool:
    """XML 1.0 `Char`: what may appear in a document at all (even escaped)."""
    c = ord(ch)
    return (c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD
            or 0x10000 <= c <= 0x10FFFF)


def _reference_excel_text(text: str) -> str:
    """excel_text, one character at a time."""
    kept, units = [], 0
    for ch in text:  # the cut, in UTF-16 code units
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > MAX_CELL_CHARS:
            break
        kept.append(ch)

    def escaped(ch: str) -> bool:
        return ch == "\r" or not _is_xml_char(ch)

    out = []
    for i, ch in enumerate(kept):
        after = kept[i + 1:i + 7]
        if escaped(ch):
            out.append(f"_x{ord(ch):04X}_")
        elif (ch == "_" and len(after) == 6 and after[0] == "x"
              and all(c in "0123456789abcdefABCDEF" for c in after[1:5])
              and (after[5] == "_" or escaped(after[5]))):
            out.append("_x005F_")  # would read as an escape: the "_" itself escaped
        else:
            out.append(ch)
    return "".join(out)



SHEET_TAIL = ('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
              'header="0.3" footer="0.3"/></worksheet>')


def sheet_head(widths: Sequence[float], header: str, *, selected: bool = True) -> str:
    """The worksheet up to and with the header row (`header`: its cells); rows follow.
    Only the first sheet is `selected`: several selected tabs open as a group in Excel, where
    an edit in one sheet is made in all of them."""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:.2f}" customWidth="1"/>'
        for i, w in enumerate(widths, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/></sheetPr>'
        '<sheetViews><sheetView' + (' tabSelected="1"' if selected else "")
        + ' workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        "</sheetView></sheetViews>"
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f'<sheetData><row r="1">{header}</row>'
    )


_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def static_parts(styles: str) -> list[tuple[str, str]]:
    """The parts that depend neither on the rows nor on the number of sheets: (name, xml)."""
    rels = (
        _HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    )
    app = (
        _HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>realtime-jobs</Application></Properties>'
    )
    return [("_rels/.rels", rels), ("docProps/app.xml", app), ("xl/styles.xml", styles)]


def sheet_count_parts(sheets: int) -> list[tuple[str, str]]:
    """The parts that list the sheets, written last, once their number is known (a part's
    place in the zip does not matter to readers: they go by the central directory)."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, sheets + 1))
    content_types = (
        _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + overrides
        + '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )
    worksheets = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
        f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheets + 1))
    wb_rels = (
        _HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships">{worksheets}<Relationship Id="rId{sheets + 1}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'
    )
    return [("[Content_Types].xml", content_types), ("xl/_rels/workbook.xml.rels", wb_rels)]


def styles_xml(formats: Sequence[str], header_fill: str) -> str:
    """cellXfs: 0 default, 1 the header, then one per number format (numFmtId 164 + i)."""
    num_fmts = "".join(
        f'<numFmt numFmtId="{164 + i}" formatCode={quoteattr(fmt)}/>'
        for i, fmt in enumerate(formats)
    )
    xfs = "".join(
        f'<xf numFmtId="{164 + i}" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>'
        for i in range(len(formats))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + (f'<numFmts count="{len(formats)}">{num_fmts}</numFmts>' if num_fmts else "")
        + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="3"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        f'<fill><patternFill patternType="solid"><fgColor rgb="{header_fill}"/>'
        '<bgColor indexed="64"/></patternFill></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        "</borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{2 + len(formats)}">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
        'applyFill="1"/>' + xfs + "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def workbook_xml(sheets: Sequence[tuple[str, str]]) -> str:
    """The sheets, (title, last cell) each, with each one's autofilter up to its last cell."""
    entries = "".join(f'<sheet name={quoteattr(title)} sheetId="{i}" r:id="rId{i}"/>'
                      for i, (title, _last) in enumerate(sheets, 1))
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(_abs_range(_quoted(title), last))}</definedName>"
        for i, (title, last) in enumerate(sheets))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{entries}</sheets><definedNames>{names}</definedNames></workbook>"
    )


def _quoted(title: str) -> str:
    return title.replace("'", "''")


def _abs_range(sheet: str, last: str) -> str:
    m = re.match(r"([A-Z]+)(\d+)", last)
    assert m is not None
    return f"'{sheet}'!$A$1:${m.group(1)}${m.group(2)}"
