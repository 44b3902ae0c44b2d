"""The region of a credit code — the directory's, else the code's area digits — is one rule in
Python, raw SQL and SQLAlchemy."""

import pytest
from sqlalchemy import Text, column, select, values
from sqlalchemy.dialects import postgresql

from services.common.code_region import code_region, code_region_clause, code_region_sql
from services.common.credit_code import make_credit_code

CODE = make_credit_code("91330106MA2AAAAA0")
CASES = [
    (CODE, "330212"),  # the directory knows it: its region, whatever the code says
    (CODE, None),  # unmatched: the area digits
    ("9133", None),  # too short for a whole area code: what there is
    ("91", None),
    ("", None),
]


@pytest.mark.parametrize(("code", "directory_region"), CASES)
async def test_python_and_both_sql_renderings_agree(db, code, directory_region):
    expected = code_region(code, directory_region)
    assert expected == (directory_region or code[2:8])
    raw = await db.fetchval(f"SELECT {code_region_sql('$1::text', '$2::text')}", code, directory_region)
    t = values(column("code", Text), column("region", Text), name="t").data([(code, directory_region)])
    stmt = select(code_region_clause(t.c.code, t.c.region))
    built = await db.fetchval(
        str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    )
    assert raw == built == expected
