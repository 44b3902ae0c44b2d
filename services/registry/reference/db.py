"""The industry section (GB/T 4754-2017 门类) of an enterprise in SQL: the generated column
`registry.enterprises.industry_section`, built from the same ranges as `industries.section_of` (the standard's divisions per section).

A section is a range of 2-digit divisions (C = 13–43). The column compares the division as text;
industry codes are 4 digits (a check constraint), so that equals the numeric ranges of
`section_of` (tests/registry/reference/test_db.py runs both over every 2-digit prefix).
"""

from __future__ import annotations

from services.registry.reference.industries import section_ranges


def _when(letter: str, lo: int, hi: int) -> str:
    division = "substr(industry_code, 1, 2)"
    if lo == hi:
        return f"  WHEN {division} = '{lo:02d}' THEN '{letter}'"
    return f"  WHEN {division} BETWEEN '{lo:02d}' AND '{hi:02d}' THEN '{letter}'"


# The generation expression of `industry_section` (NULL outside every section).
INDUSTRY_SECTION = "CASE\n" + "\n".join(_when(*r) for r in section_ranges()) + "\nEND"
