"""Customer text that looks like a formula stays text in every export format (CSV injection)."""

from __future__ import annotations

import csv
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from exports.registry import ResolvedColumn
from exports.writers import open_writer

COLUMNS = (
    ResolvedColumn("name", "Name", "text", None, None),
    ResolvedColumn("amount", "Amount", "decimal", "#,##0.00", None),
)
HOSTILE = ["=HYPERLINK(\"http://evil.test\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB",
           "plain", "a=b"]


def _rows():
    return [(text, Decimal("-5.00")) for text in HOSTILE]


@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_xlsx_writes_formula_like_text_as_strings(tmp_path, engine):
    path = str(tmp_path / f"{engine}.xlsx")
    writer = open_writer("xlsx", path, engine=engine, title="x", columns=COLUMNS,
                         widths=[10, 10], tz=None)
    writer.write_rows(_rows())
    writer.close()
    with zipfile.ZipFile(path) as zf:
        assert "<f>" not in zf.read("xl/worksheets/sheet1.xml").decode()
    ws = openpyxl.load_workbook(path).active
    assert [ws.cell(row=i + 2, column=1).data_type for i in range(len(HOSTILE))] == (
        ["s"] * len(HOSTILE))
    assert ws["A2"].value == HOSTILE[0]
    assert ws["B2"].value == -5.0  # numbers keep their sign


def test_csv_neutralizes_formula_like_text_but_not_numbers(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer("csv", str(path), engine="fast", title="x", columns=COLUMNS,
                         widths=[], tz=None)
    writer.write_rows(_rows())
    writer.close()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        got = list(csv.reader(fh))[1:]
    assert [row[0] for row in got] == ["'" + t for t in HOSTILE[:5]] + ["plain", "a=b"]
    assert {row[1] for row in got} == {"-5.00"}


# A formula character where a ";" (or tab) reader, or a reader that ends the row at a line
# break inside quotes, would start a cell. (text, what the CSV field holds)
SEPARATED = [
    ('x;=HYPERLINK("http://evil.test","x")', 'x;\'=HYPERLINK("http://evil.test","x")'),
    ("a;+1;-2;@SUM(A1)", "a;'+1;'-2;'@SUM(A1)"),
    ('a;"=1+1"', "a;'\"=1+1\""),  # behind a quote: a ';' reader would open a quoted cell
    ("tab\t=1+1", "tab\t'=1+1"),
    ("line one\n=1+1", "line one\n'=1+1"),
    ("crlf\r\n-2+3", "crlf\r\n'-2+3"),
    ("cr\r@SUM(A1)", "cr\r'@SUM(A1)"),
    ("=1;=2", "'=1;'=2"),
    ("a; =1 b;x c,=1 d=;1", "a; =1 b;x c,=1 d=;1"),  # nothing at a cell start: unchanged
]


def test_csv_neutralizes_formulas_behind_separators_and_line_breaks(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer("csv", str(path), engine="fast", title="x", columns=COLUMNS,
                         widths=[], tz=None)
    writer.write_rows([(text, Decimal("1.00")) for text, _ in SEPARATED])
    writer.close()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        got = [row[0] for row in list(csv.reader(fh))[1:]]
    assert got == [want for _, want in SEPARATED]
    # Whatever splits a line (";" or tab) or ends a row, no piece starts a formula.
    for field in got:
        for piece in re.split(r'[;\t\r\n]', field):
            assert piece.lstrip('"')[:1] not in set("=+-@"), (field, piece)


def test_csv_guards_choice_labels_and_unknown_choice_values(tmp_path):
    cols = (ResolvedColumn("status", "Status", "text", None, {"a": "=Paid", "b": "Open"}, False),)
    path = tmp_path / "out.csv"
    writer = open_writer("csv", str(path), engine="fast", title="x", columns=cols, widths=[],
                         tz=None)
    writer.write_rows([("a",), ("b",), ("-1+2",), (None,)])
    writer.close()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        got = [row[0] for row in list(csv.reader(fh))[1:]]
    assert got == ["'=Paid", "Open", "'-1+2", ""]
