"""Public verification SQL: one indexed probe on certificate_no, only the public columns."""

from __future__ import annotations

from typing import Any

from services.common.readpool import fetch

COLUMNS = (
    "certificate_no, certifier, holder_name, holder_credit_code, product, standard_code, "
    "issued_on, expires_on, status, status_effective_on"
)
ONE = f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = $1 ORDER BY certifier LIMIT 20"
ONE_AT = f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = $1 AND certifier = $2"
MANY = (
    f"SELECT {COLUMNS} FROM standards.certificates WHERE certificate_no = ANY($1::text[]) "
    "ORDER BY certificate_no, certifier"
)


async def by_number(app: Any, certificate_no: str, certifier: str | None) -> list[Any]:
    # Read-only, outside any unit of work: one pooled connection, one prepared statement.
    if certifier:
        return await fetch(app, ONE_AT, certificate_no, certifier)
    return await fetch(app, ONE, certificate_no)


async def by_numbers(app: Any, numbers: list[str]) -> list[Any]:
    return await fetch(app, MANY, numbers)
