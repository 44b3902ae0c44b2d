"""Loan-application SQL: set-based upsert and scoped list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.common.auth import Principal
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.finance import bulk
from services.finance.applications.models import LoanApplication
from services.finance.lines.repository import DIRECTORY_JOIN, REGION
from services.finance.loans.repository import SIZE_CLASS, SIZE_SOURCE, size_join
from services.finance.scope import visible

REPORTED = [
    "application_ref",
    "borrower_credit_code",
    "applied_on",
    "amount_requested",
    "decision",
    "decided_on",
    "borrower_size",
]

SPEC = bulk.UpsertSpec(
    table="loan_applications",
    owner_col="lender",
    key_col="application_ref",
    columns=REPORTED,
    entity_type="loan_application",
    derived={"borrower_region": REGION, "size_class": SIZE_CLASS, "size_source": SIZE_SOURCE},
    joins=DIRECTORY_JOIN + size_join("s.applied_on"),
)


async def list_applications(
    reads: Reader, principal: Principal, params: PageParams, borrower: str | None
) -> list[Any]:
    """A page of the list, on the read pool (a replica's copy when one is configured)."""
    stmt = select(LoanApplication).where(
        visible(principal, region_col=LoanApplication.borrower_region, bank_col=LoanApplication.lender)
    )
    if borrower:
        stmt = stmt.where(LoanApplication.borrower_credit_code == borrower)
    return await fetch_objects(reads, keyset(stmt, [LoanApplication.id], params))
