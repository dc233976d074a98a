"""Excel's limits: rows per sheet (a small limit stands in for 1,048,575), sheet names, the size
of a sheet part (zip64), the cell limit in UTF-16 units, numbers Excel cannot hold."""

from __future__ import annotations

import struct
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from exports.registry import ResolvedColumn
from exports.writers import open_writer
from exports.xlsx import (
    MAX_PART_BYTES,
    MAX_SHEET_ROWS,
    SHEET_TITLE_MAX,
    XlsxWriter,
    numbered_sheet_title,
)
from tests.exports.sheet_text import excel_decode

COLUMNS = (
    ResolvedColumn("n", "N", "int", None, None),
    ResolvedColumn("name", "Name", "text", None, None),
    ResolvedColumn("amount", "Amount", "decimal", "#,##0.00", None),
    ResolvedColumn("ratio", "Ratio", "float", None, None),
)
WIDTHS = [8.0, 30.0, 12.0, 9.0]


def _rows(n: int) -> list[tuple]:
    return [(i, f"row {i}", Decimal(i) / 4, i / 8) for i in range(n)]


def _write(path, engine: str, batches: list[list[tuple]], *, max_rows: int,
           background: bool = False):
    writer = open_writer("xlsx", str(path), engine=engine, title="Accident claims",
                         columns=COLUMNS, widths=WIDTHS, tz=None, background=background,
                         max_rows=max_rows)
    for batch in batches:
        writer.write_rows(batch)
    writer.close()
    return writer


def _data(ws) -> list[tuple]:
    return [tuple(row) for row in ws.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize(("engine", "background"),
                         [("fast", False), ("fast", True), ("openpyxl", False)])
def test_rows_past_the_limit_continue_on_numbered_sheets(tmp_path, engine, background):
    rows = _rows(8)
    path = tmp_path / f"{engine}.xlsx"
    # Batches that end before, on and across the sheet boundaries (3 rows a sheet).
    _write(path, engine, [rows[:2], rows[2:3], rows[3:7], [], rows[7:]], max_rows=3,
           background=background)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Accident claims", "Accident claims (2)", "Accident claims (3)"]
    got = []
    for ws in wb.worksheets:
        assert [c.value for c in ws[1]] == ["N", "Name", "Amount", "Ratio"]
        assert ws.freeze_panes == "A2"
        assert [ws.column_dimensions[x].width for x in "ABCD"] == WIDTHS
        assert ws.auto_filter.ref == f"A1:D{ws.max_row}"
        got += _data(ws)
    assert [ws.max_row for ws in wb.worksheets] == [4, 4, 3]
    assert got == [(i, f"row {i}", float(Decimal(i) / 4), i / 8) for i in range(8)]
    with zipfile.ZipFile(path) as zf:  # one selected tab: several would open as a group
        selected = ['tabSelected="1"' in zf.read(f"xl/worksheets/sheet{i}.xml").decode()
                    for i in (1, 2, 3)]
    assert selected[1:] == [False, False] and selected[0] is (engine == "fast")


@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_exactly_the_limit_is_one_sheet(tmp_path, engine):
    path = tmp_path / "full.xlsx"
    _write(path, engine, [_rows(4)], max_rows=4)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Accident claims"] and wb.active.max_row == 5


def test_the_fast_writer_lists_each_sheet_in_the_package(tmp_path):
    path = tmp_path / "parts.xlsx"
    writer = _write(path, "fast", [_rows(5)], max_rows=2)
    assert writer.sheets == [("Accident claims", "D3"), ("Accident claims (2)", "D3"),
                             ("Accident claims (3)", "D2")]
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        types = zf.read("[Content_Types].xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
        book = zf.read("xl/workbook.xml").decode()
    for i in (1, 2, 3):
        assert f'PartName="/xl/worksheets/sheet{i}.xml"' in types
        assert f'Target="worksheets/sheet{i}.xml"' in rels
        assert f'localSheetId="{i - 1}"' in book
    assert "'Accident claims (3)'!$A$1:$D$2" in book


def test_the_row_limit_is_excels_by_default():
    assert MAX_SHEET_ROWS == 1_048_576 - 1  # Excel's rows, less the header
    writer = XlsxWriter(__import__("io").BytesIO(), title="t", columns=COLUMNS, widths=WIDTHS)
    assert writer.max_rows == MAX_SHEET_ROWS
    writer.abort()
    with pytest.raises(ValueError, match="max_rows"):
        XlsxWriter(__import__("io").BytesIO(), title="t", columns=COLUMNS, widths=WIDTHS,
                   max_rows=MAX_SHEET_ROWS + 1)


def test_numbered_sheet_titles_stay_within_excels_rule():
    assert numbered_sheet_title("Claims", 1) == "Claims"
    assert numbered_sheet_title("Claims", 2) == "Claims (2)"
    long = "A label well past Excel's 31 ch"
    assert len(long) == SHEET_TITLE_MAX
    assert numbered_sheet_title(long, 2) == "A label well past Excel's 3 (2)"
    assert numbered_sheet_title(long, 12) == "A label well past Excel's (12)"  # cut, strip
    assert all(len(numbered_sheet_title(long, n)) <= SHEET_TITLE_MAX for n in (2, 99, 1000))
    # A title that ends in " (2)" at the limit would repeat itself: one character less.
    tricky = "x" * 27 + " (2)"
    assert numbered_sheet_title(tricky, 2) == "x" * 26 + " (2)"


# --- the size of a sheet part: zip64 -----------------------------------------------------
def _local_header_extra(path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        fh.seek(info.header_offset + 30 + name_len)
        return fh.read(extra_len)


@pytest.mark.parametrize("background", [False, True])
def test_a_sheet_part_ends_before_it_would_need_zip64(tmp_path, background):
    """The part size is counted from the bytes handed to the zip, not guessed from a row
    estimate: with a small `max_part_bytes`, parts end early; none carries zip64."""
    path = tmp_path / "parts.xlsx"
    limit = 4_000
    rows = [(i, "é" * 200 + str(i), Decimal(i), 0.5) for i in range(40)]  # ~500 bytes each
    writer = XlsxWriter(str(path), title="Parts", columns=COLUMNS, widths=WIDTHS,
                        background=background, max_part_bytes=limit)
    writer.write_rows(rows[:25])
    writer.write_rows(rows[25:])
    writer.close()
    with zipfile.ZipFile(path) as zf:
        parts = [i for i in zf.infolist() if i.filename.startswith("xl/worksheets/")]
    assert len(parts) >= 5
    assert all(p.file_size <= limit for p in parts), [p.file_size for p in parts]
    assert all(p.extract_version < 45 for p in parts)  # 45: zip64
    assert all(_local_header_extra(path, p.filename) == b"" for p in parts)
    wb = openpyxl.load_workbook(path)
    got = [row for ws in wb.worksheets for row in _data(ws)]
    assert [r[0] for r in got] == list(range(40))
    assert wb.sheetnames[1] == "Parts (2)"


def test_the_default_part_limit_stays_below_zipfiles_zip64_limit():
    assert zipfile.ZIP64_LIMIT - MAX_PART_BYTES >= zipfile.ZIP64_LIMIT // 1000  # deflate growth


def test_one_row_past_the_part_limit_is_refused(tmp_path):
    writer = XlsxWriter(str(tmp_path / "x.xlsx"), title="t", columns=COLUMNS, widths=WIDTHS,
                        max_part_bytes=2_000)
    with pytest.raises(ValueError, match="one row of"):
        writer.write_rows([(1, "x" * 3_000, None, None)])
    writer.abort()


# --- cells ---------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_numbers_excel_cannot_hold_arrive_as_text(tmp_path, engine):
    rows = [(1, "a", Decimal("NaN"), float("nan")),
            (2, "b", Decimal("Infinity"), float("inf")),
            (3, "c", Decimal("-Infinity"), float("-inf")),
            (4, "d", Decimal("1E+400"), 1.7976931348623157e308),
            (5, "e", Decimal("-2.50"), -0.125)]
    path = tmp_path / f"{engine}.xlsx"
    _write(path, engine, [rows], max_rows=MAX_SHEET_ROWS)
    ws = openpyxl.load_workbook(path).active
    got = [(ws.cell(r, 3).value, ws.cell(r, 4).value) for r in range(2, 7)]
    assert got == [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"),
                   ("1E+400", "1.7976931348623157e+308"), (-2.5, -0.125)]
    assert [ws.cell(r, 3).data_type for r in range(2, 7)] == ["s"] * 4 + ["n"]


@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_text_rules_hold_in_both_engines(tmp_path, engine):
    emoji = "\U0001f697"
    texts = ["_x0041_", "a\rb", "ctrl\x01\x1f", "=1+1", emoji * 16_384,
             "x" * 32_766 + emoji]
    path = tmp_path / f"{engine}.xlsx"
    _write(path, engine, [[(i, t, None, None) for i, t in enumerate(texts)]],
           max_rows=MAX_SHEET_ROWS)
    ws = openpyxl.load_workbook(path).active
    got = [excel_decode(ws.cell(r, 2).value) for r in range(2, 2 + len(texts))]
    assert got == ["_x0041_", "a\rb", "ctrl\x01\x1f", "=1+1", emoji * 16_383, "x" * 32_766]
    assert ws.cell(5, 2).data_type == "s"
