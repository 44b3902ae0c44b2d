"""Finance's part in the batch pipeline (`services/common/batch.py`), shared by every ingest route
(loans, credit lines, applications, guarantees): the finance rule set, FIN-V010 for a ref repeated
in a batch (every occurrence is rejected), and the set-based upsert of `bulk` for the caller's
institution, which reports created/updated per ref and writes the change log in the same statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.batch import (
    BatchSpec,
    FindingData,
    LookUp,
    Parsed,
    RecordRules,
    RejectEvery,
    Written,
)
from services.finance import bulk
from services.finance.rules import RULES, rule_for_error

# after the upsert, in the same transaction: the refs it created or updated, and the records
AfterWrite = Callable[[AsyncSession, dict[str, str], list[Parsed]], Awaitable[None]]


# pg_advisory_xact_lock(RECLASSIFY_LOCK, hashtext(institution)): see hold_institution.
RECLASSIFY_LOCK = 7_301_004


async def hold_institution(session: AsyncSession, owner: str) -> None:
    """One institution's writes that re-derive its other loans (a loan or credit-line batch
    recomputes the totals and 普惠 flags of every loan of the borrowers it touched) run one at a
    time: two of them, each holding the rows it wrote and waiting for the other's, would deadlock.
    Other institutions' batches never wait here."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:k, hashtext(:owner))"), {"k": RECLASSIFY_LOCK, "owner": owner}
    )


def finance_batch(
    principal: Principal,
    owner: str,
    *,
    model: type[BaseModel],
    key_field: str,
    rules: RecordRules,
    upsert_spec: bulk.UpsertSpec,
    to_row: Callable[[Any], tuple],
    look_up: LookUp | None = None,
    after_write: AfterWrite | None = None,
) -> BatchSpec:
    """The batch of one finance record kind, written for `owner` (the caller's institution)."""

    async def upsert(session: AsyncSession, accepted: list[Parsed]) -> Written:
        rows = [to_row(p.record) for p in accepted]
        if after_write:
            await hold_institution(session, owner)
        by_ref = await bulk.upsert_in(session, upsert_spec, owner, rows, principal, RULES.version)
        if after_write:
            await after_write(session, by_ref, accepted)
        statuses = {}
        for p in accepted:
            status = by_ref.get(getattr(p.record, key_field))
            if status is not None:
                statuses[p.index] = status
        return Written(statuses)

    return BatchSpec(
        rule_set=RULES,
        model=model,
        key_field=key_field,
        rule_for_error=rule_for_error,
        duplicates=RejectEvery("FIN-V010"),
        rules=rules,
        look_up=look_up,
        upsert=upsert,
    )


def order_check(rule: str, earlier: Any, later: Any, pointer: str, message: str) -> list[FindingData]:
    if earlier is not None and later is not None and later < earlier:
        return [RULES.finding(rule, message, pointer)]
    return []


def finding(rule: str, message: str, pointer: str | None = None) -> FindingData:
    return RULES.finding(rule, message, pointer)
