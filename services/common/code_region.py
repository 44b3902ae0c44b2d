"""The region of an enterprise known by its credit code: the registry directory's region_code, else
(a code the directory does not know) the code's area digits, characters 3–8.

One rule in three renderings, tested to agree (tests/common/test_code_region.py): Python for a
code whose directory row was read, raw SQL and SQLAlchemy for a query that LEFT JOINs the
directory (`directory_region` is NULL when no row matched).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement


def code_region(code: str, directory_region: str | None) -> str:
    return directory_region if directory_region is not None else code[2:8]


def code_region_sql(code_sql: str, directory_region_sql: str) -> str:
    return f"COALESCE({directory_region_sql}, substr({code_sql}, 3, 6))"


def code_region_clause(code: ColumnElement, directory_region: ColumnElement) -> ColumnElement:
    return func.coalesce(directory_region, func.substr(code, 3, 6))
