"""Adoption rules: only IDT and MOD adoption counts toward the numerator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.conditional import representation, require_match
from services.common.errors import NotFound
from services.standards.adoption import repository as repo
from services.standards.adoption.models import AdoptionReport
from services.standards.adoption.schemas import AdoptingProduct, AdoptionIn, AdoptionOut, rate_of
from services.standards.catalogue.service import _require_enterprise_in_scope

SCHEMA = "standards"


def to_out(r: AdoptionReport) -> AdoptionOut:
    return AdoptionOut(
        credit_code=r.credit_code,
        year=r.year,
        main_products=r.main_products,
        adopting_products=[AdoptingProduct(**p) for p in r.adopting_products],
        basis=r.basis,
        numerator=r.adopting_count,
        denominator=r.main_products,
        rate=rate_of(r.adopting_count, r.main_products),
        updated_at=r.updated_at,
    )


async def put(
    session: AsyncSession,
    principal: Principal,
    credit_code: str,
    year: int,
    body: AdoptionIn,
    if_match: str | None = None,
) -> tuple[AdoptionOut, bool]:
    """Replace the year's report (created when new). With `if_match`, only when it names the
    report as a GET answers it now (the row locked first, so of two callers holding one tag only
    one writes); a year without a report fails any `If-Match`."""
    await _require_enterprise_in_scope(session, principal, credit_code, "#/path/credit_code")
    existing = await repo.get(session, credit_code, year, for_update=True)
    require_match(if_match, representation(to_out(existing)) if existing else None)
    before = to_out(existing).model_dump(mode="json", exclude={"updated_at"}) if existing else None
    numerator = sum(1 for p in body.adopting_products if p.degree in ("IDT", "MOD"))
    row = await repo.upsert(
        session,
        {
            "credit_code": credit_code,
            "year": year,
            "main_products": body.main_products,
            "adopting_count": numerator,
            "adopting_products": [p.model_dump() for p in body.adopting_products],
            "basis": body.basis,
        },
    )
    out = to_out(row)
    after = out.model_dump(mode="json", exclude={"updated_at"})
    if before != after:
        await record_changes(
            session,
            SCHEMA,
            principal,
            [
                Change(
                    "updated" if existing else "created", "adoption", f"{credit_code}|{year}", before, after
                )
            ],
        )
    return out, existing is None


async def get(session: AsyncSession, principal: Principal, credit_code: str, year: int) -> AdoptionOut:
    await _require_enterprise_in_scope(session, principal, credit_code, "#/path/credit_code")
    row = await repo.get(session, credit_code, year)
    if row is None:
        raise NotFound(what="adoption report", key=f"{credit_code}/{year}")
    return to_out(row)
