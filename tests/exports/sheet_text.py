"""What a spreadsheet program shows for a cell's text, written independently of exports/xlsx.py:
Excel's `_xHHHH_` decoding (ECMA-376 ST_Xstring) and its cell limit in UTF-16 code units."""

from __future__ import annotations

import re

CELL_UNITS = 32_767
_ESCAPED = re.compile("_x([0-9A-Fa-f]{4})_")


def excel_decode(text: str) -> str:
    """What Excel shows for the text of a <t> element: each _xHHHH_ is that UTF-16 unit, left
    to right (openpyxl leaves them as they are; LibreOffice decodes them)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def shown(text: str) -> str:
    """`text` as a cell holds it: the longest prefix within 32,767 UTF-16 units."""
    out, units = [], 0
    for ch in text:
        units += utf16_units(ch)
        if units > CELL_UNITS:
            break
        out.append(ch)
    return "".join(out)
