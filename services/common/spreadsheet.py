"""Cells of the CSV and XLSX exports: stored text that can neither break the file nor run as a
formula in the spreadsheet that opens it.

- A text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`
  (OWASP, CSV injection): Excel, LibreOffice and Google Sheets would otherwise read it as a formula
  (`=HYPERLINK(…)`, `@SUM(…)`, DDE), in a CSV and when an XLSX cell is edited or re-saved as CSV.
  openpyxl itself would store such a string as a formula.
- Characters the text rule refuses (services/common/types.py) — in values stored before it
  existed — are replaced by U+FFFD: XML, hence XLSX, cannot hold C0 control characters and
  openpyxl raises on them mid-file.
Only text is escaped; numbers and dates are typed values (XLSX) or their plain spelling (CSV).
"""

from __future__ import annotations

from services.common.types import replace_refused

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: str) -> str:
    """A stored string as a spreadsheet cell shows it."""
    value = replace_refused(value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
