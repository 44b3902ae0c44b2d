"""Credit-line rules and ingest; a changed line re-derives its borrower's loans' inclusive flags."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import FindingData, Parsed, run_batch
from services.finance.batching import finance_batch, finding, order_check
from services.finance.lines import repository
from services.finance.lines.schemas import CreditLineIn
from services.finance.loans import repository as loans_repository
from services.finance.loans.service import _lender


def cross_check(r: CreditLineIn) -> list[FindingData]:
    errors = order_check(
        "FIN-V007", r.granted_on, r.expires_on, "/expires_on", "expires_on is before granted_on"
    )
    errors += order_check(
        "FIN-V007", r.granted_on, r.closed_on, "/closed_on", "closed_on is before granted_on"
    )
    if r.status == "closed" and r.closed_on is None:
        errors.append(finding("FIN-V009", "status closed needs closed_on", "/closed_on"))
    if r.status == "active" and r.closed_on is not None:
        errors.append(finding("FIN-V009", "an active line has no closed_on", "/closed_on"))
    return errors


def to_row(r: CreditLineIn) -> tuple[Any, ...]:
    return tuple(getattr(r, c) for c in repository.REPORTED)


async def ingest(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    lender = _lender(principal)
    previous: list[str] = []

    async def remember(session: AsyncSession, valid: list[Parsed]) -> dict[int, list[FindingData]]:
        previous.extend(await repository.borrowers_of(session, lender, [p.record.line_ref for p in valid]))
        return {}

    async def reclassify(session: AsyncSession, statuses: dict[str, str], valid: list[Parsed]) -> None:
        changed = {p.record.borrower_credit_code for p in valid if p.record.line_ref in statuses}
        if changed:
            changed |= set(previous)
            await loans_repository.recompute_inclusive_in(session, lender, sorted(changed), principal)

    spec = finance_batch(
        principal,
        lender,
        model=CreditLineIn,
        key_field="line_ref",
        rules=cross_check,
        upsert_spec=repository.SPEC,
        to_row=to_row,
        look_up=remember,
        after_write=reclassify,
    )
    return await run_batch(session, spec, records, atomic)
