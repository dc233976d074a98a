"""The generated CSV row function against the per-value converters it replaced."""

from __future__ import annotations

from hypothesis import given

from exports.writers import _converters, csv_row_function
from tests.exports.test_xlsx_reference import FAST, sheets


def _per_value(values, cols, tz):
    convert = _converters(cols, tz, text=True)
    return tuple(v if c is None or v is None else c(v)
                 for v, c in zip(values, convert, strict=True))


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # datetimes overflowing in astimezone
        return "raised", type(exc)


@FAST
@given(sheets())
def test_generated_csv_row_matches_the_per_value_converters(sheet):
    cols, _styles, tz, rows = sheet
    row = csv_row_function(cols, tz)
    for values in rows:
        assert _outcome(row, values) == _outcome(_per_value, values, cols, tz), values
