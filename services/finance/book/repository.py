"""Loan-book report SQL: the set-based upsert (by caller + period_end) and the scoped list."""

from __future__ import annotations

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.pagination import PageParams, keyset
from services.finance import bulk
from services.finance.book.models import LoanBookReport
from services.finance.scope import visible

REPORTED = ["period_end", "all_loans_balance", "all_loans_borrowers"]

SPEC = bulk.UpsertSpec(
    table="loan_book_reports",
    owner_col="lender",
    key_col="period_end",
    columns=REPORTED,
    entity_type="loan_book_report",
)


async def list_reports(
    session: AsyncSession, principal: Principal, params: PageParams, lender: str | None
) -> list[LoanBookReport]:
    """A bank its own reports, admin every bank's (optionally one `lender`'s); nobody else any.
    A whole book is a bank's own figure, not a region's: officials read it only through 两增."""
    if principal.kind not in ("bank", "admin"):
        stmt = select(LoanBookReport).where(false())
    else:
        stmt = select(LoanBookReport).where(
            visible(principal, region_col=LoanBookReport.lender, bank_col=LoanBookReport.lender)
        )
    if lender:
        stmt = stmt.where(LoanBookReport.lender == lender)
    return list((await session.execute(keyset(stmt, [LoanBookReport.id], params))).scalars())
