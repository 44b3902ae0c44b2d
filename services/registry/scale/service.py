from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.errors import NotFound
from services.registry.enterprises import repository as enterprises
from services.registry.errors import YearOutOfRange
from services.registry.indicators.schemas import max_year
from services.registry.scale import repository as repo
from services.registry.scale.models import ScaleStatus
from services.registry.scale.schemas import ScaleStatusIn, ScaleStatusOut


def with_entries(facts: list[ScaleStatus]) -> list[ScaleStatusOut]:
    """Mark 小升规 entries: an `above` fact whose previous fact (by year) was not `above`."""
    out, previous = [], None
    for f in facts:
        entry = f.status == "above" and previous != "above"
        out.append(ScaleStatusOut.model_validate({**f.__dict__, "entry": entry}))
        previous = f.status
    return out


async def add(session: AsyncSession, principal: Principal, code: str, body: ScaleStatusIn) -> ScaleStatusOut:
    if body.effective_year > max_year():
        raise YearOutOfRange(f"effective_year must be ≤ {max_year()}", pointer="/effective_year")
    if await enterprises.lock_visible(session, principal, code) is None:
        raise NotFound(what="enterprise", key=code)
    fact = await repo.add(session, ScaleStatus(credit_code=code, **body.model_dump()))
    await record_changes(
        session,
        "registry",
        principal,
        [Change("created", "scale_status", f"{code}/{fact.id}", None, body.model_dump())],
    )
    facts = await repo.history(session, code)
    return next(f for f in with_entries(facts) if f.id == fact.id)


async def history(session: AsyncSession, principal: Principal, code: str) -> list[ScaleStatusOut]:
    if not await enterprises.exists_visible(session, principal, code):
        raise NotFound(what="enterprise", key=code)
    return with_entries(await repo.history(session, code))
