"""One way to write a number a person reads, on the page and in mail: "1,601".

The dashboard writes numbers with `Intl.NumberFormat` (static/js/format.js); in English that
is a comma between thousands and at most three decimals. Job messages, titles, the summary
email, the admin and `run_job` use these helpers so that a card, a toast, a subject line and
a terminal say "1,601" alike (Python's `str(1601)` gave "Sending 1601 reminders" beside a
card saying "1,601"). Numbers written for programs (JSON, CSV cells, headers) stay plain.
"""

from __future__ import annotations

import math
from decimal import Decimal

Number = int | float | Decimal


def fmt_number(value: Number | None) -> str:
    """1601 -> "1,601", 2601.5 -> "2,601.5", 0.12345 -> "0.123"; None -> an en dash, as the page."""
    if value is None:
        return "–"
    if isinstance(value, bool):  # a bool is an int to Python, never a count to a person
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    rounded = round(number, 3)
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.3f}".rstrip("0")


def fmt_count(value: int, singular: str, plural: str | None = None) -> str:
    """A count and its noun: fmt_count(1, "row") -> "1 row", fmt_count(1601, "row") ->
    "1,601 rows"."""
    noun = singular if value == 1 else (plural or f"{singular}s")
    return f"{fmt_number(value)} {noun}"
