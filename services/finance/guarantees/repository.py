"""Guarantee SQL: set-based upsert, the look-up for warnings, scoped list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import raw_connection
from services.common.export import Statement, compiled
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.finance import bulk
from services.finance.guarantees.models import Guarantee
from services.finance.lines.repository import DIRECTORY_JOIN, REGION
from services.finance.scope import visible

REPORTED = [
    "guarantee_ref",
    "borrower_credit_code",
    "lender_code",
    "loan_ref",
    "guaranteed_amount",
    "outstanding_amount",
    "fee_rate",
    "starts_on",
    "ends_on",
    "status",
    "released_on",
    "compensated_on",
    "compensated_amount",
    "recovered_amount",
    "counter_guarantee",
    "reguarantee_share",
]

SPEC = bulk.UpsertSpec(
    table="guarantees",
    owner_col="guarantor",
    key_col="guarantee_ref",
    columns=REPORTED,
    entity_type="guarantee",
    derived={"borrower_region": REGION},
    joins=DIRECTORY_JOIN,
)


async def known_banks(session: AsyncSession, codes: list[str]) -> set[str]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT code FROM finance.institutions WHERE kind = 'bank' AND code = ANY($1::text[])", codes
    )
    return {r[0] for r in rows}


def scoped(principal: Principal):
    return select(Guarantee).where(
        visible(
            principal,
            region_col=Guarantee.borrower_region,
            bank_col=Guarantee.lender_code,
            guarantor_col=Guarantee.guarantor,
        )
    )


def guarantees_query(principal: Principal, borrower: str | None) -> Select:
    """The guarantees the caller sees that match the list's filter (the list and the export)."""
    stmt = scoped(principal)
    if borrower:
        stmt = stmt.where(Guarantee.borrower_credit_code == borrower)
    return stmt


async def list_guarantees(
    reads: Reader, principal: Principal, params: PageParams, borrower: str | None
) -> list[Any]:
    """A page of the list, on the read pool (a replica's copy when one is configured)."""
    return await fetch_objects(reads, keyset(guarantees_query(principal, borrower), [Guarantee.id], params))


def export_statement(principal: Principal, borrower: str | None, columns: list[str]) -> Statement:
    """The list's guarantees (same scope, same filter, same order) as the export reads them."""
    stmt = guarantees_query(principal, borrower).order_by(Guarantee.id)
    return compiled(stmt.with_only_columns(*(Guarantee.__table__.c[c] for c in columns)))
