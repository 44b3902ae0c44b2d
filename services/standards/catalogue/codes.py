"""Standard numbers: one stored spelling per standard.

Chinese standard numbers (GB, GB/T, DB33/T, T/ZZB, JB/T, …) separate number and year with a dash;
publishers print an em-dash (`T/ZZB 0001—2023`) and data entry often types a hyphen or an en-dash.
We store `PREFIX NUMBER—YEAR`: uppercase, one space after the prefix, em-dash before the year.
Other numbers (ISO 9001:2015, IEC 60335-1:2020) keep their punctuation; whitespace is collapsed and
letters are uppercased.
"""

from __future__ import annotations

import re

DASHES = "-‐‑‒–—―－"
_CN = re.compile(
    r"^(?P<prefix>[A-Z]{1,6}\d{0,2}(?:/[A-Z]{1,5})?)\s*(?P<number>\d[\d.]*(?:-\d+)*)\s*["
    + DASHES
    + r"]\s*(?P<year>(?:19|20)\d{2})$"
)
ZZB = re.compile(r"^T/ZZB \d{4}—\d{4}$")
_SPACES = re.compile(r"\s+")


def normalize_standard_code(raw: str) -> str:
    """Normalise a standard number; raises ValueError when it is empty or too long."""
    code = _SPACES.sub(" ", (raw or "").replace("\u3000", " ")).strip().upper()
    if not code:
        raise ValueError("a standard number is required")
    if len(code) > 64:
        raise ValueError("a standard number has at most 64 characters")
    m = _CN.match(code)
    if m:
        number = m["number"]
        # hyphen-separated part numbers stay hyphens (GB/T 20001-1—2001 is unusual but keep it)
        return f"{m['prefix']} {number}—{m['year']}"
    return code


def is_zhejiang_made(code: str) -> bool:
    """True for a normalised "浙江制造" group standard number (T/ZZB NNNN—YYYY)."""
    return bool(ZZB.match(code))
