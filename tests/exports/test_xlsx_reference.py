"""The generated row function of exports/xlsx.py against its plain spelling, reference_row_xml.

Hypothesis builds random column sets and rows (every Unicode plane, control characters, lone
surrogates, edge whitespace, strings around Excel's 32,767-character cell limit, huge ints,
inf/nan, Decimals, dates and datetimes at years 1 and 9999, aware ones in odd time zones) and
the two must agree exactly: the same string, or the same exception type.
"""

from __future__ import annotations

import gc
import io
import linecache
import traceback
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exports.registry import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    DEFAULT_FORMATS,
    FLOAT,
    INT,
    TEXT,
    ResolvedColumn,
)
from exports.xlsx import (
    XlsxWriter,
    col_letter,
    compile_row_function,
    reference_row_xml,
)
from exports.xlsx_parts import MAX_CELL_CHARS
from tests.exports.sheet_text import excel_decode, shown

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ZONES = [None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
         ZoneInfo("Europe/Paris"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kathmandu"),
         ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Pacific/Kiritimati")]
FAST = settings(max_examples=400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- values -----------------------------------------------------------------------------
# One odd character in otherwise plain text is the case that tells the fast path from the
# slow one; fully random text mostly takes the slow path anyway.
_odd_chars = st.one_of(
    st.sampled_from(
        [chr(c) for c in range(0x20)]  # C0 controls: \t \n \r kept, the rest dropped
        + ["\x7f", "\x85", "\xa0", "\u2028", "\u3000", "\ufeff", "\ufffd", "\ufffe", "\uffff",
           "\ud800", "\udfff", "\U00010000", "\U0001f697", "\U0010ffff", "&", "<", ">", "]",
           '"', "'", " ", "_"]),
    st.characters(categories=["Cs"]),  # lone surrogates: the writer drops them
    st.characters(min_codepoint=0x10000),  # astral planes
)
# What reads as Excel's escape, or nearly: kept literal (_x005F_); next to an odd character
# or another of these, the "_" that follows may belong to an escape.
_escape_like = st.sampled_from(["_x0041_", "_x005F_", "_x000d_", "_xD83D_", "_x", "_x00",
                                "_x0041", "x0041_", "_x004G_"])
_odd_pieces = st.one_of(_odd_chars, _escape_like,
                        st.builds(lambda a, b: a + b, _escape_like, _odd_chars))
_char = st.one_of(st.characters(), _odd_chars)  # st.characters(): every plane, no surrogates
_plain = st.text(st.sampled_from("aZ09 -.,/é€ß客🚗"), max_size=12)
_whitespace = st.text(st.sampled_from(" \t\n\r\xa0\u3000\x1c\x85"), min_size=1, max_size=3)
_one_odd = st.builds(lambda a, c, b: a + c + b, _plain, _odd_pieces, _plain)
_short_text = st.one_of(
    _plain,
    _one_odd,
    _one_odd,
    st.text(_char, max_size=40),
    st.builds(lambda a, t: a + t, _whitespace, _plain),
    st.builds(lambda t, b: t + b, _plain, _whitespace),
)
_long_text = st.builds(  # around the cell limit: the cut comes before the clean-up
    lambda k, tail: "x" * k + tail,
    st.integers(MAX_CELL_CHARS - 3, MAX_CELL_CHARS + 1),
    st.one_of(st.just(""), _odd_pieces, st.text(_char, max_size=4)),
)
_long_astral = st.builds(  # the limit is in UTF-16 units: an emoji counts 2
    lambda k, pad, tail: "x" * pad + "\U0001f697" * k + tail,
    st.integers(MAX_CELL_CHARS // 2 - 2, MAX_CELL_CHARS // 2 + 1), st.integers(0, 2),
    st.one_of(st.just(""), _odd_pieces),
)
TEXT_VALUES = st.one_of(_short_text, _long_text, _long_astral)
INTS = st.one_of(st.integers(), st.integers(-(2**63), 2**63),
                 st.integers(-(10**4400), 10**4400))  # past 4,300 digits str() raises
DECIMALS = st.decimals(allow_nan=True, allow_infinity=True)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
DATES = st.dates()
DATETIMES = st.datetimes(timezones=st.sampled_from(ZONES))  # naive or aware, years 1..9999
# (kind, with choices, values always str): what registry.field_kind can produce.
FLAVOURS = [*[(TEXT, False, True)] * 3,  # the column with the inlined fast path
            (TEXT, False, False), (TEXT, True, False), (INT, False, False),
            (DECIMAL, False, False), (FLOAT, False, False), (DATE, False, False),
            (DATETIME, False, False), (BOOL, False, False), (BOOL, True, False)]


def _choices() -> st.SearchStrategy[dict]:
    return st.dictionaries(st.one_of(st.integers(-3, 3), st.text(max_size=3), st.booleans()),
                           TEXT_VALUES, min_size=1, max_size=4)


@st.composite
def columns(draw) -> tuple[ResolvedColumn, ...]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        kind, with_choices, is_str = draw(st.sampled_from(FLAVOURS))
        choices = draw(_choices()) if with_choices else None
        fmt = draw(st.sampled_from([None, DEFAULT_FORMATS.get(kind), "#,##0", "0.000"]))
        if is_str:
            # A format on a plain str column styles its plain cells only (the fast path adds
            # s=, _text_cell does not): never the case in the registry, not the spec here.
            fmt = None
        out.append(ResolvedColumn(f"c{i}", f"Col {i}", kind, fmt, choices, is_str))
    return tuple(out)


def _value(draw, col: ResolvedColumn) -> object:
    if draw(st.integers(0, 4)) == 0:
        return None
    if col.choices and draw(st.booleans()):
        return draw(st.sampled_from(sorted(col.choices, key=repr)))
    if col.kind == TEXT:
        if col.is_str:
            return draw(TEXT_VALUES)
        return draw(st.one_of(TEXT_VALUES, INTS, DECIMALS, st.uuids(), DATES))
    return draw({INT: INTS, DECIMAL: DECIMALS, FLOAT: FLOATS, DATE: DATES,
                 DATETIME: DATETIMES, BOOL: st.booleans()}[col.kind])


@st.composite
def sheets(draw, max_rows: int = 4):
    cols = draw(columns())
    formats = sorted({c.number_format for c in cols if c.number_format})
    styles = {fmt: 2 + i for i, fmt in enumerate(formats)}  # as XlsxWriter numbers them
    rows = [tuple(_value(draw, c) for c in cols) for _ in range(draw(st.integers(1, max_rows)))]
    return cols, styles, draw(st.sampled_from(ZONES)), rows


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # huge ints (str limit), datetimes overflowing in astimezone
        return "raised", type(exc)


# --- the property -----------------------------------------------------------------------
@FAST
@given(sheets(), st.integers(2, 1_048_576))
def test_generated_row_function_matches_the_reference(sheet, first_row):
    cols, styles, tz, rows = sheet
    row = compile_row_function(cols, styles, tz)
    for n, values in enumerate(rows, first_row):
        got = _outcome(row, n, values)
        assert got == _outcome(reference_row_xml, n, values, cols, styles, tz), (n, values)
        if got[0] == "ok":
            # Well-formed UTF-8 XML, one <c> per non-None value, in column order.
            xml = f'<sheetData xmlns="{MAIN_NS}">{got[1]}</sheetData>'.encode()
            (parsed,) = ET.fromstring(xml)
            want = [f"{col_letter(i)}{n}" for i, v in enumerate(values) if v is not None]
            assert [c.get("r") for c in parsed] == want


_M = MAX_CELL_CHARS
EDGE_TEXT = (
    ["", " ", "x", "a b", " a", "a ", "\ta", "a\n", "a\r\nb", "\xa0a", "a\u3000", "\x1ca",
     "x" * (_M - 1), "x" * _M, "x" * (_M + 1), "x" * (_M - 1) + " ", "x" * _M + "\x01",
     "x" * (_M - 1) + "&", "\x01" + "x" * _M]
    + [f"a{chr(c)}b" for c in range(0x20)]
    + [f"a{ch}b" for ch in "&<>]\"'\x7f\x85\u2028\ud800\udbff\udc00\udfff\ufeff\ufffd\ufffe\uffff"]
    + ["\U00010000", "\U0001f697\U0001f4a5", "\U0010ffff", "客户", "\ud83d\ude97"]
    + ["_x0041_", "_x0041_x0042_", "_x0041\x01", "a_x005F_b", "_xD83D_", "_X0041_", "_x004G_",
       "\r", "a\rb", "x" * (_M - 1) + "\U0001f697", "x" * (_M - 2) + "\U0001f697",
       "\U0001f697" * (_M // 2), "\U0001f697" * (_M // 2 + 1), "x" * (_M - 6) + "_x0041_"]
)
EDGE_VALUES = {
    INT: [0, -1, 2**63, -(2**63) - 1, 10**4299, -(10**4299), 10**4300],  # the last raises
    DECIMAL: [Decimal(x) for x in ("0", "-0", "1.50", "1E+2", "1E-7", "-1e-400", "9" * 60,
                                   "NaN", "-sNaN", "Infinity", "-Infinity",
                                   "1E+308", "-1E+400", "9.99E+307", "0E+400")],
    FLOAT: [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e16, float("inf"),
            float("-inf"), float("nan"), 1e308, -1e308, 9.99e307],
    DATE: [date.min, date.max, date(1899, 12, 30), date(1900, 2, 28), date(1900, 3, 1)],
    DATETIME: [datetime.min, datetime.max, datetime.min.replace(tzinfo=UTC),
               datetime.max.replace(tzinfo=UTC),  # overflow once moved east: both raise
               datetime(2024, 10, 27, 2, 30, tzinfo=UTC),
               datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
               datetime(2024, 1, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-12)))],
    BOOL: [True, False],
}


@pytest.mark.parametrize("tz", [None, UTC, ZoneInfo("Pacific/Kiritimati")], ids=str)
def test_edge_values_match_the_reference(tz):
    cases = [((TEXT, None, True), v) for v in EDGE_TEXT]
    cases += [((TEXT, None, False), v) for v in [*EDGE_TEXT, 7, Decimal("1.5"), date.max]]
    cases += [((TEXT, {1: v, "k": "plain"}, False), k) for v in EDGE_TEXT for k in (1, "k", 2)]
    cases += [((kind, None, False), v) for kind, vs in EDGE_VALUES.items() for v in vs]
    raised = 0
    for (kind, choices, is_str), value in cases:
        fmt = None if is_str else "0.00"
        cols = (ResolvedColumn("a", "A", kind, fmt, choices, is_str),
                ResolvedColumn("b", "B", INT, None, None))
        styles = {} if fmt is None else {fmt: 2}
        row = compile_row_function(cols, styles, tz)
        for values in ((value, 1), (value, None), (None, 1)):
            got = _outcome(row, 1_048_576, values)
            assert got == _outcome(reference_row_xml, 1_048_576, values, cols, styles, tz), (
                kind, values)
            raised += got[0] == "raised"
    assert raised >= 2  # 10**4300 and the overflowing datetimes took the error path


def test_reference_spells_out_the_cases_it_claims():
    """A few fixed rows, so the reference itself is checked against hand-written XML."""
    cols = (ResolvedColumn("a", "A", TEXT, None, None),
            ResolvedColumn("b", "B", DECIMAL, "#,##0.00", None),
            ResolvedColumn("c", "C", BOOL, None, None),
            ResolvedColumn("d", "D", DATETIME, "yyyy-mm-dd hh:mm", None),
            ResolvedColumn("e", "E", TEXT, None, {1: "One & only"}, False))
    styles = {"#,##0.00": 2, "yyyy-mm-dd hh:mm": 3}
    paris = ZoneInfo("Europe/Paris")
    at = datetime(2024, 1, 1, 11, 0, tzinfo=UTC)  # 12:00 in Paris
    for fn in (reference_row_xml, lambda n, v, *a: compile_row_function(*a)(n, v)):
        assert fn(7, (" x\x01<", Decimal("1.50"), True, at, 1), cols, styles, paris) == (
            '<row r="7"><c r="A7" t="inlineStr"><is><t xml:space="preserve"> x_x0001_&lt;</t>'
            "</is></c>"
            '<c r="B7" s="2"><v>1.50</v></c><c r="C7" t="b"><v>1</v></c>'
            '<c r="D7" s="3"><v>45292.5</v></c>'
            '<c r="E7" t="inlineStr"><is><t>One &amp; only</t></is></c>'
            "</row>")
        assert fn(8, ("plain", None, None, None, None), cols, styles, paris) == (
            '<row r="8"><c r="A8" t="inlineStr"><is><t>plain</t></is></c></row>')


def test_reference_spells_out_excel_text_and_numbers():
    """Excel's own spellings, by hand: escapes, the limit in UTF-16 units, NaN as text."""
    cols = (ResolvedColumn("a", "A", TEXT, None, None),
            ResolvedColumn("b", "B", FLOAT, "0.00", None),
            ResolvedColumn("c", "C", DECIMAL, "#,##0.00", None))
    styles = {"0.00": 2, "#,##0.00": 3}

    def cell(text):
        return f'<c r="A2" t="inlineStr"><is><t>{text}</t></is></c>'

    cases = {
        "_x0041_": cell("_x005F_x0041_"),  # stays literal: Excel would show "A"
        "_x0041_x0042_": cell("_x005F_x0041_x005F_x0042_"),
        "_x0041\x01": cell("_x005F_x0041_x0001_"),  # the next "_" is the escape's
        "a\rb": cell("a_x000D_b"),  # a reader turns a raw CR into LF
        "a\x01\x1fb\ufffe": cell("a_x0001__x001F_b_xFFFE_"),
        "_x004G_ _X0041_": cell("_x004G_ _X0041_"),  # not escapes: left alone
        "\U0001f697" * 16_384: cell("\U0001f697" * 16_383),  # 32,768 units: one too many
        "x" * 32_766 + "\U0001f697": cell("x" * 32_766),  # no half emoji
    }
    for fn in (reference_row_xml, lambda n, v, *a: compile_row_function(*a)(n, v)):
        for text, want in cases.items():
            assert fn(2, (text, None, None), cols, styles, None) == f'<row r="2">{want}</row>'
            written = want[len('<c r="A2" t="inlineStr"><is><t>'):-len("</t></is></c>")]
            assert excel_decode(written) == shown(text)  # what Excel shows: the text
        assert fn(2, (None, float("nan"), Decimal("-Infinity")), cols, styles, None) == (
            '<row r="2"><c r="B2" t="inlineStr"><is><t>nan</t></is></c>'
            '<c r="C2" t="inlineStr"><is><t>-Infinity</t></is></c></row>')
        assert fn(2, (None, 1e308, Decimal("9.99E+307")), cols, styles, None) == (
            '<row r="2"><c r="B2" t="inlineStr"><is><t>1e+308</t></is></c>'
            '<c r="C2" s="3"><v>9.99E+307</v></c></row>')
        assert fn(2, (None, -2.5, Decimal("1.50")), cols, styles, None) == (
            '<row r="2"><c r="B2" s="2"><v>-2.5</v></c><c r="C2" s="3"><v>1.50</v></c></row>')


# --- the file, read back by openpyxl ----------------------------------------------------
# After Excel's 1900 leap-year bug, and a day away from year 10000 (time-zone shifts).
_EXCEL_DATES = st.dates(date(1900, 3, 3), date(9999, 12, 29))
_EXCEL_VALUES = {
    INT: st.integers(-(10**15), 10**15),
    DECIMAL: st.decimals(-(10**12), 10**12, allow_nan=False, places=4),
    FLOAT: st.floats(-1e300, 1e300, allow_nan=False),
    DATE: _EXCEL_DATES,
    DATETIME: st.builds(lambda d, s, tz: (datetime.combine(d, datetime.min.time())
                                          + timedelta(seconds=s)).replace(tzinfo=tz),
                        _EXCEL_DATES, st.integers(0, 86399), st.sampled_from(ZONES)),
    BOOL: st.booleans(),
}


def _excel_text(text: str) -> str:
    """What Excel shows: cut at the limit in UTF-16 units, every character kept (openpyxl
    hands back the _xHHHH_ escapes, decoded here as Excel decodes them)."""
    return shown(text)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_a_sample_of_random_sheets_opens_in_openpyxl(data):
    # Dates and datetimes with their date formats, or openpyxl reads back plain numbers.
    cols = tuple(replace(c, number_format=DEFAULT_FORMATS[c.kind]) if c.kind in (DATE, DATETIME)
                 else c for c in data.draw(columns()))
    tz = data.draw(st.sampled_from(ZONES))
    rows = []
    for _ in range(data.draw(st.integers(1, 4))):
        rows.append(tuple(
            None if data.draw(st.integers(0, 4)) == 0
            else data.draw(_short_text if c.kind == TEXT and (c.is_str or not c.choices)
                           else st.sampled_from(sorted(c.choices, key=repr)) if c.choices
                           else _EXCEL_VALUES[c.kind])
            for c in cols))
    buf = io.BytesIO()
    writer = XlsxWriter(buf, title="Random", columns=cols, widths=[10] * len(cols), tz=tz)
    writer.write_rows(rows)
    writer.close()
    ws = openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active
    assert [c.value for c in ws[1]] == [c.header for c in cols]
    for r, values in enumerate(rows, 2):
        for i, (col, value) in enumerate(zip(cols, values, strict=True)):
            got = ws.cell(r, i + 1).value
            if value is None:
                assert got is None
            elif col.choices or col.kind == TEXT:
                label = col.choices.get(value, value) if col.choices else value
                assert excel_decode(got or "") == _excel_text(str(label))
            elif col.kind == BOOL:
                assert got is value
            elif col.kind in (INT, DECIMAL, FLOAT):
                assert got == value or float(got) == float(value)
            elif col.kind == DATE:
                assert got.date() == value
            else:
                local = value.astimezone(tz) if value.tzinfo and tz is not None else value
                assert abs(got - local.replace(tzinfo=None)) <= timedelta(milliseconds=1)


# --- tracebacks -------------------------------------------------------------------------
def test_a_traceback_from_the_generated_function_shows_its_source_line():
    cols = (ResolvedColumn("name", "Name", TEXT, None, None),
            ResolvedColumn("day", "Day", DATE, "yyyy-mm-dd", None))
    row = compile_row_function(cols, {"yyyy-mm-dd": 2}, None, name="Claims: 2024")
    filename = row.__code__.co_filename
    assert filename.startswith("<xlsx-row-Claims_2024-") and filename in linecache.cache
    linecache.checkcache()  # re-stats real files only: an mtime-None entry stays
    with pytest.raises(AttributeError) as info:
        row(2, ("ok", "not a date"))
    text = "".join(traceback.format_exception(info.value))
    assert f'File "{filename}", line ' in text
    assert "_sdate(v1)" in text and "# B 'day'" in text, text  # the failing column's line
    other = compile_row_function(cols, {}, None, name="Claims: 2024")
    assert other.__code__.co_filename != filename  # one cache entry per function

    del row, info
    gc.collect()
    assert filename not in linecache.cache  # gone with the function
