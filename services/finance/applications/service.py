"""Loan-application rules and ingest."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import FindingData, run_batch
from services.finance.applications import repository
from services.finance.applications.schemas import ApplicationIn
from services.finance.batching import finance_batch, finding, order_check
from services.finance.loans.service import _lender


def cross_check(r: ApplicationIn) -> list[FindingData]:
    errors = order_check(
        "FIN-V007", r.applied_on, r.decided_on, "/decided_on", "decided_on is before applied_on"
    )
    if r.decision != "pending" and r.decided_on is None:
        errors.append(finding("FIN-V015", f"decision {r.decision} needs decided_on", "/decided_on"))
    if r.decision == "pending" and r.decided_on is not None:
        errors.append(finding("FIN-V015", "a pending application has no decided_on", "/decided_on"))
    return errors


def to_row(r: ApplicationIn) -> tuple[Any, ...]:
    return tuple(getattr(r, c) for c in repository.REPORTED)


async def ingest(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    spec = finance_batch(
        principal,
        _lender(principal),
        model=ApplicationIn,
        key_field="application_ref",
        rules=cross_check,
        upsert_spec=repository.SPEC,
        to_row=to_row,
    )
    return await run_batch(session, spec, records, atomic)
