"""Loan rules beyond field types, warnings, and the batch ingest."""

from __future__ import annotations

import re
from datetime import date
from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import FindingData, Parsed, run_batch
from services.finance.batching import finance_batch, finding, order_check
from services.finance.errors import NoInstitution
from services.finance.loans import repository
from services.finance.loans.schemas import LoanIn

CLOSED = ("repaid", "written_off")
# A resident identity number (GB 11643-1999: area, birth date, sequence, check): a customer ref is
# the bank's own reference, and the platform stores no personal ID numbers.
RESIDENT_ID = re.compile(r"^[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]$")


def cross_check(r: LoanIn) -> list[FindingData]:
    errors: list[FindingData] = []
    errors += order_check(
        "FIN-V007", r.issued_on, r.matures_on, "/matures_on", "matures_on is before issued_on"
    )
    errors += order_check("FIN-V007", r.issued_on, r.closed_on, "/closed_on", "closed_on is before issued_on")
    if r.outstanding_balance > r.amount:
        errors.append(
            finding(
                "FIN-V008",
                f"outstanding_balance {r.outstanding_balance} exceeds amount {r.amount}",
                "/outstanding_balance",
            )
        )
    if r.status in CLOSED and r.closed_on is None:
        errors.append(finding("FIN-V009", f"status {r.status} needs closed_on", "/closed_on"))
    if r.status not in CLOSED and r.closed_on is not None:
        errors.append(finding("FIN-V009", f"a loan with status {r.status} has no closed_on", "/closed_on"))
    kind = kind_of(r)
    if kind == "business_owner" and r.customer_ref is None:
        errors.append(
            finding(
                "FIN-V019",
                "a business_owner loan names the bank's customer_ref of the owner",
                "/customer_ref",
            )
        )
    if kind != "business_owner" and r.customer_ref is not None:
        errors.append(
            finding(
                "FIN-V019",
                f"customer_ref is for business_owner loans, not {kind}",
                "/customer_ref",
            )
        )
    if r.customer_ref is not None and RESIDENT_ID.match(r.customer_ref):
        errors.append(
            finding(
                "FIN-V019",
                "customer_ref looks like a resident ID number; send the bank's own ref",
                "/customer_ref",
            )
        )
    if r.status == "repaid" and r.outstanding_balance != 0:
        errors.append(
            finding("FIN-V008", "a repaid loan has outstanding_balance 0.00", "/outstanding_balance")
        )
    return errors


_REPORTED_OF = attrgetter(*repository.REPORTED)  # one call per record, not a getattr per field
_KIND_AT = repository.REPORTED.index("borrower_kind")


def to_row(r: LoanIn) -> tuple[Any, ...]:
    row = _REPORTED_OF(r)
    return (*row[:_KIND_AT], kind_of(r), *row[_KIND_AT + 1 :])


def kind_of(r: LoanIn) -> str:
    """A loan names its borrower kind, or is an enterprise's."""
    return r.borrower_kind or "enterprise"


def _lender(principal: Principal) -> str:
    if not principal.org:
        raise NoInstitution(kind="bank")
    return principal.org


async def ingest(
    session: AsyncSession, principal: Principal, records: list[dict[str, Any]], atomic: bool
) -> dict[str, Any]:
    lender = _lender(principal)

    async def warnings(session: AsyncSession, valid: list[Parsed]) -> dict[int, list[FindingData]]:
        codes = sorted({p.record.borrower_credit_code for p in valid})
        known = await repository.known_borrowers(session, codes)
        line_refs = sorted({p.record.credit_line_ref for p in valid if p.record.credit_line_ref})
        lines = await repository.known_line_refs(session, lender, line_refs) if line_refs else set()
        g_refs = sorted({p.record.guarantee_ref for p in valid if p.record.guarantee_ref})
        guarantees = await repository.known_guarantee_refs(session, lender, g_refs) if g_refs else set()
        for p in valid:
            r = p.record
            if r.borrower_credit_code not in known:
                p.warnings.append(
                    finding(
                        "FIN-W001", f"{r.borrower_credit_code} is not in the registry; stored as unmatched"
                    )
                )
            if r.credit_line_ref and r.credit_line_ref not in lines:
                p.warnings.append(finding("FIN-W002", f"no credit line {r.credit_line_ref} at {lender}"))
            if r.guarantee_ref and r.guarantee_ref not in guarantees:
                p.warnings.append(
                    finding("FIN-W003", f"no guarantee {r.guarantee_ref} naming lender {lender}")
                )
        return {}

    previous: dict[str, date] = {}  # the stored versions' borrowers, each its earliest issue date

    async def look_up(session: AsyncSession, valid: list[Parsed]) -> dict[int, list[FindingData]]:
        previous.update(await repository.borrowers_of(session, lender, [p.record.loan_ref for p in valid]))
        return await warnings(session, valid)

    async def reclassify(session: AsyncSession, statuses: dict[str, str], valid: list[Parsed]) -> None:
        # a customer's total credit is all its loans there: a written loan moves its neighbours
        # (the stored loans beside the batch issued on or after it; the batch's own were derived
        # by the upsert)
        written = [p.record for p in valid if p.record.loan_ref in statuses]
        if not written:
            return
        since = dict(previous)
        for r in written:
            code, issued = r.borrower_credit_code, r.issued_on
            since[code] = min(since.get(code, issued), issued)
        beside = repository.Beside([p.record.loan_ref for p in valid], since)
        await repository.recompute_inclusive_in(session, lender, sorted(since), principal, beside=beside)

    spec = finance_batch(
        principal,
        lender,
        model=LoanIn,
        key_field="loan_ref",
        rules=cross_check,
        upsert_spec=repository.SPEC,
        to_row=to_row,
        look_up=look_up,
        after_write=reclassify,
    )
    return await run_batch(session, spec, records, atomic)
