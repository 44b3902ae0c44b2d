"""Guarantee rules, warnings and ingest."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import FindingData, Parsed, run_batch
from services.finance.batching import finance_batch, finding, order_check
from services.finance.errors import NoInstitution
from services.finance.guarantees import repository
from services.finance.guarantees.schemas import GuaranteeIn


def cross_check(r: GuaranteeIn) -> list[FindingData]:
    errors = order_check("FIN-V007", r.starts_on, r.ends_on, "/ends_on", "ends_on is before starts_on")
    errors += order_check(
        "FIN-V007", r.starts_on, r.released_on, "/released_on", "released_on is before starts_on"
    )
    errors += order_check(
        "FIN-V007", r.starts_on, r.compensated_on, "/compensated_on", "compensated_on is before starts_on"
    )
    if r.outstanding_amount > r.guaranteed_amount:
        errors.append(
            finding("FIN-V008", "outstanding_amount exceeds guaranteed_amount", "/outstanding_amount")
        )
    if r.status == "released" and r.released_on is None:
        errors.append(finding("FIN-V009", "status released needs released_on", "/released_on"))
    if r.status == "compensated" and r.compensated_on is None:
        errors.append(finding("FIN-V009", "status compensated needs compensated_on", "/compensated_on"))
    if r.status == "active" and r.released_on is not None:
        errors.append(finding("FIN-V009", "an active guarantee has no released_on", "/released_on"))
    if r.status != "compensated" and r.compensated_on is not None:
        errors.append(finding("FIN-V009", f"a {r.status} guarantee has no compensated_on", "/compensated_on"))
    if r.status != "compensated" and r.compensated_amount > 0:
        errors.append(
            finding("FIN-V016", "compensated_amount needs status compensated", "/compensated_amount")
        )
    if r.compensated_amount > r.guaranteed_amount:
        errors.append(
            finding("FIN-V016", "compensated_amount exceeds guaranteed_amount", "/compensated_amount")
        )
    if r.recovered_amount > r.compensated_amount:
        errors.append(finding("FIN-V016", "recovered_amount exceeds compensated_amount", "/recovered_amount"))
    return errors


def to_row(r: GuaranteeIn) -> tuple[Any, ...]:
    return tuple(getattr(r, c) for c in repository.REPORTED)


async def ingest(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    if not principal.org:
        raise NoInstitution(kind="guarantor")

    async def warnings(session: AsyncSession, valid: list[Parsed]) -> dict[int, list[FindingData]]:
        # Only what a guarantor may know: the registered institutions (listed to every caller).
        # Whether the named bank holds `loan_ref` is the bank's business — a guarantor sees no
        # loans, so no warning may depend on them (the bank's own loans get FIN-W003).
        banks = await repository.known_banks(session, sorted({p.record.lender_code for p in valid}))
        for p in valid:
            r = p.record
            if r.lender_code not in banks:
                p.warnings.append(finding("FIN-W004", f"{r.lender_code} is not a registered bank"))
        return {}

    spec = finance_batch(
        principal,
        principal.org,
        model=GuaranteeIn,
        key_field="guarantee_ref",
        rules=cross_check,
        upsert_spec=repository.SPEC,
        to_row=to_row,
        look_up=warnings,
    )
    return await run_batch(session, spec, records, atomic)
