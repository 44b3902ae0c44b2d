"""Loan-book report rules and ingest (the batch pipeline of every finance record kind)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import FindingData, run_batch
from services.finance.batching import finance_batch, finding
from services.finance.book import repository
from services.finance.book.schemas import LoanBookReportIn
from services.finance.loans.service import _lender


def cross_check(r: LoanBookReportIn) -> list[FindingData]:
    # a balance is owed by someone: a book with a balance has borrowers, and one without has none
    if (r.all_loans_balance > 0) != (r.all_loans_borrowers > 0):
        return [
            finding(
                "FIN-V018",
                f"all_loans_balance {r.all_loans_balance} with all_loans_borrowers {r.all_loans_borrowers}",
                "/all_loans_borrowers",
            )
        ]
    return []


def to_row(r: LoanBookReportIn) -> tuple[Any, ...]:
    return tuple(getattr(r, c) for c in repository.REPORTED)


async def ingest(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    lender = _lender(principal)  # the caller's own book, never a field (FIN-V012)
    spec = finance_batch(
        principal,
        lender,
        model=LoanBookReportIn,
        key_field="period_end",
        rules=cross_check,
        upsert_spec=repository.SPEC,
        to_row=to_row,
    )
    return await run_batch(session, spec, records, atomic)
