"""Text a spreadsheet opening a CSV will not run as a formula (OWASP "CSV injection").

One rule for every CSV the product writes: the exports' (exports/writers.py) and the failed
recipients of a campaign (campaigns/detail.py: addresses come from users, reasons from remote
mail servers; neither is trusted).

A customer named "=HYPERLINK(...)" must arrive as text. CSV has no types, so a leading
apostrophe, which Excel and LibreOffice read as "this is text", is the only defence, and not
only at the start: the CSV is comma-separated, but Excel opens a .csv with the locale's list
separator, often ";", and then splits every line at each ";" - quotes count only at the start
of a piece (LibreOffice: a ';' reader of `"x;=1+1",2` makes a formula of `=1+1",2`). Such a
reader also ends the row at a line break inside a quoted field. So a formula character is
neutralised wherever a cell can start: at the start of the text, and after each ";", tab, CR
and LF, behind any double quotes. "," needs nothing: the csv module quotes a field with ",",
and a "," reader honours quotes at every field start.
"""

from __future__ import annotations

import re

FORMULA_START = frozenset("=+-@\t\r")
CELL_START = re.compile(r'(?<=[;\t\r\n])(?="*[=+\-@\t\r])')
RISKY = re.compile(r'[;\t\r\n]"*[=+\-@\t\r]').search


def csv_text(value: str) -> str:
    """`value` as a cell no spreadsheet runs as a formula, whichever separator it splits on."""
    if value[:1] in FORMULA_START:
        value = "'" + value
    return CELL_START.sub("'", value) if RISKY(value) else value
