"""Credit-line SQL: set-based upsert and scoped list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.code_region import code_region_sql
from services.common.db import raw_connection
from services.common.export import Statement, compiled
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.finance import bulk
from services.finance.lines.models import CreditLine
from services.finance.scope import visible

REPORTED = ["line_ref", "borrower_credit_code", "amount", "granted_on", "expires_on", "status", "closed_on"]
REGION = code_region_sql("s.borrower_credit_code", "d.region_code")
DIRECTORY_JOIN = """
    LEFT JOIN LATERAL (SELECT dd.region_code FROM registry.enterprise_directory dd
                       WHERE dd.credit_code = s.borrower_credit_code LIMIT 1) d ON true
"""

SPEC = bulk.UpsertSpec(
    table="credit_lines",
    owner_col="lender",
    key_col="line_ref",
    columns=REPORTED,
    entity_type="credit_line",
    derived={"borrower_region": REGION},
    joins=DIRECTORY_JOIN,
)


async def borrowers_of(session: AsyncSession, lender: str, refs: list[str]) -> list[str]:
    """Borrowers currently on these lines (before the upsert: a line may change borrower)."""
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT DISTINCT borrower_credit_code FROM finance.credit_lines WHERE lender = $1 AND line_ref = ANY($2::text[])",
        lender,
        refs,
    )
    return [r[0] for r in rows]


def lines_query(principal: Principal, borrower: str | None) -> Select:
    """The credit lines the caller sees that match the list's filter (the list and the export)."""
    stmt = select(CreditLine).where(
        visible(principal, region_col=CreditLine.borrower_region, bank_col=CreditLine.lender)
    )
    if borrower:
        stmt = stmt.where(CreditLine.borrower_credit_code == borrower)
    return stmt


async def list_lines(
    reads: Reader, principal: Principal, params: PageParams, borrower: str | None
) -> list[Any]:
    """A page of the list, on the read pool (a replica's copy when one is configured)."""
    return await fetch_objects(reads, keyset(lines_query(principal, borrower), [CreditLine.id], params))


def export_statement(principal: Principal, borrower: str | None, columns: list[str]) -> Statement:
    """The list's lines (same scope, same filter, same order) as the export reads them."""
    stmt = lines_query(principal, borrower).order_by(CreditLine.id)
    return compiled(stmt.with_only_columns(*(CreditLine.__table__.c[c] for c in columns)))
