"""The file writers, read back with openpyxl / csv: values, types, widths, panes, styles."""

from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from exports.registry import EXPORT_TYPES, ExportType, ResolvedColumn
from exports.writers import column_widths, open_writer
from exports.xlsx import col_letter, sheet_title, wall_clock
from tests.exports.factories import AWKWARD_TEXT
from tests.exports.sheet_text import excel_decode

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = (
    ResolvedColumn("name", "Name", "text", None, None),
    ResolvedColumn("status", "Status", "text", None, {"open": "Open", "paid": "Paid"}),
    ResolvedColumn("amount", "Amount", "decimal", "#,##0.00", None),
    ResolvedColumn("count", "Count", "int", None, None),
    ResolvedColumn("ratio", "Ratio", "float", None, None),
    ResolvedColumn("day", "Day", "date", "yyyy-mm-dd", None),
    ResolvedColumn("at", "At", "datetime", "yyyy-mm-dd hh:mm", None),
    ResolvedColumn("ok", "OK", "bool", None, None),
)


def _rows(n: int) -> list[tuple]:
    base = datetime(2026, 3, 29, 0, 30, 15, 250000, tzinfo=ZoneInfo("UTC"))
    rows = []
    for i in range(n):
        rows.append((
            AWKWARD_TEXT[i % len(AWKWARD_TEXT)],
            "paid" if i % 2 else "open",
            Decimal("1234.56") * (i + 1) if i != 3 else None,
            i * 1000,
            i / 7,
            date(2024, 2, 29) + timedelta(days=i),
            base + timedelta(hours=i, seconds=i),
            i % 3 == 0,
        ))
    return rows


def _expected_text(value: str) -> str:
    return value  # control characters kept, as _x0001_ (read back through excel_decode)


def _write(tmp_path, engine: str, rows: list[tuple], tz=PARIS) -> str:
    path = str(tmp_path / f"out-{engine}.xlsx")
    writer = open_writer("xlsx", path, engine=engine, title="Claims: test [1]",
                         columns=COLUMNS, widths=column_widths(COLUMNS, rows), tz=tz)
    writer.write_rows(rows[:5])
    writer.write_rows(rows[5:])
    writer.close()
    return path


@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_xlsx_reads_back_with_the_same_values_and_types(tmp_path, engine):
    rows = _rows(23)
    path = _write(tmp_path, engine, rows)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws.max_row == 24 and ws.max_column == len(COLUMNS)
    assert [c.value for c in ws[1]] == [c.header for c in COLUMNS]
    assert all(c.font.b for c in ws[1]) and ws["A1"].fill.fill_type == "solid"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H24"
    for i, src in enumerate(rows):
        got = [c.value for c in ws[i + 2]]
        assert excel_decode(got[0]) == _expected_text(src[0]), i
        assert got[1] == ("Paid" if i % 2 else "Open")
        if src[2] is None:
            assert got[2] is None
        else:
            assert isinstance(got[2], float) and got[2] == float(src[2])
        assert got[3] == i * 1000 and isinstance(got[3], int)
        assert got[4] == pytest.approx(src[4], rel=1e-12)
        assert isinstance(got[5], datetime) and got[5].date() == src[5]
        local = src[6].astimezone(PARIS).replace(tzinfo=None)  # docs/architecture.md, trap 10
        assert isinstance(got[6], datetime)
        assert abs(got[6] - local) <= timedelta(milliseconds=1), (got[6], local)
        assert got[7] is (i % 3 == 0)
    assert ws["C2"].number_format == "#,##0.00"
    assert ws["G2"].number_format == "yyyy-mm-dd hh:mm"
    widths = {k: v.width for k, v in ws.column_dimensions.items() if v.width}
    assert set(widths) >= {col_letter(i) for i in range(len(COLUMNS))}
    assert widths["A"] > widths["H"]  # sized from the sample, not one width for all


def test_fast_writer_output_is_a_valid_zip_with_the_expected_parts(tmp_path):
    path = _write(tmp_path, "fast", _rows(3))
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        workbook = zf.read("xl/workbook.xml").decode()
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml",
            "xl/worksheets/sheet1.xml"} <= names
    assert 'state="frozen"' in sheet and "<cols>" in sheet
    assert sheet.index("<cols>") < sheet.index("<sheetData>")  # trap 9: before the rows
    assert "_xlnm._FilterDatabase" in workbook and "Claims  test  1" in workbook


def test_fast_writer_zero_rows(tmp_path):
    path = _write(tmp_path, "fast", [])
    ws = openpyxl.load_workbook(path).active
    assert ws.max_row == 1 and ws["A1"].value == "Name"


def test_csv_has_the_same_rows(tmp_path):
    rows = _rows(9)
    path = tmp_path / "out.csv"
    writer = open_writer("csv", str(path), engine="fast", title="x", columns=COLUMNS,
                         widths=[], tz=PARIS)
    writer.write_rows(rows)
    writer.close()
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel detects UTF-8
    with open(path, newline="", encoding="utf-8-sig") as fh:
        got = list(csv.reader(fh))
    assert got[0] == [c.header for c in COLUMNS]
    assert len(got) == 10
    assert got[1][0] == rows[0][0] and got[2][1] == "Paid"
    assert got[1][2] == "1234.56"
    assert got[1][6] == rows[0][6].astimezone(PARIS).replace(tzinfo=None).isoformat(sep=" ")


def test_registry_columns_resolve_for_every_type():
    for entry in EXPORT_TYPES.values():
        kinds = {c.path: c.kind for c in entry.resolved}
        assert kinds["amount"] == "decimal" and kinds["created_at"] == "datetime"
        assert kinds["car__year"] == "int" and kinds["car__make"] == "text"
        assert entry.resolved[1].choices  # status shows its label


def test_sheet_title_rule_has_one_owner():
    assert sheet_title("Claims: test [1]") == "Claims  test  1"
    assert sheet_title("a/b\\c?d*e") == "a b c d e"
    assert sheet_title("  ") == sheet_title("[]") == sheet_title("") == "Sheet1"
    assert sheet_title("x" * 40) == "x" * 31
    assert sheet_title("x" * 30 + " tail") == "x" * 30  # cut, then strip
    accident = EXPORT_TYPES["accident"]
    assert accident.title == "Accident claims"
    long = ExportType(key="k", label="A label well past Excel's 31 characters: [draft]",
                      model=accident.model, columns=accident.columns)
    assert long.title == sheet_title(long.label) == "A label well past Excel's 31 ch"
    assert ExportType(key="k", label="x", model=accident.model, columns=accident.columns,
                      sheet_title="Q1/Q2 *").title == "Q1 Q2"


def test_wall_clock_is_the_site_clock_without_tzinfo():
    utc = datetime(2024, 7, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    assert wall_clock(utc, PARIS) == datetime(2024, 7, 1, 12, 0)
    assert wall_clock(utc, PARIS).tzinfo is None
    assert wall_clock(utc, None) == datetime(2024, 7, 1, 10, 0)  # no site zone: its own clock
    naive = datetime(2024, 7, 1, 10, 0)
    assert wall_clock(naive, PARIS) is naive  # naive values are already wall clock
    second = wall_clock(datetime(2024, 10, 27, 1, 30, tzinfo=ZoneInfo("UTC")), PARIS)
    assert second == datetime(2024, 10, 27, 2, 30) and second.fold == 1  # the repeated hour
