"""The industry section of a GB/T 4754-2017 code: `industries.section_of` (Python) and the generated
column's expression `db.INDUSTRY_SECTION` (SQL) agree on every division."""

import asyncpg
import pytest

from services.registry.reference.db import INDUSTRY_SECTION
from services.registry.reference.industries import section_of
from tests.registry_data import add_enterprise


async def test_python_and_sql_give_every_division_the_same_section(db):
    # every division 00–99, at both ends of its classes
    codes = [f"{d:02d}{c}" for d in range(100) for c in ("00", "11", "99")]
    rows = await db.fetch(
        f"SELECT industry_code, {INDUSTRY_SECTION} AS section FROM unnest($1::text[]) AS v(industry_code)",
        codes,
    )
    sql = {r["industry_code"]: r["section"] for r in rows}
    assert sql == {code: section_of(code) for code in codes}
    # edges: the first and last division of each section, and the divisions in no section
    assert [section_of(c) for c in ("0111", "0599", "0600", "4399", "9799")] == ["A", "A", "B", "C", "T"]
    assert {section_of(c) for c in ("0011", "9811", "9999")} == {None}


async def test_the_stored_column_is_that_expression_and_codes_outside_it_are_refused(db):
    code = await add_enterprise(db, industry_code="4411")
    assert (
        await db.fetchval("SELECT industry_section FROM registry.enterprises WHERE credit_code = $1", code)
        == "D"
    )
    # Text compares equal to the numeric ranges only for 2 digits; other codes never reach the column.
    for bad in ("1", "33", "ab11", "٣٣١١"):
        with pytest.raises(asyncpg.CheckViolationError):
            await add_enterprise(db, industry_code=bad)
