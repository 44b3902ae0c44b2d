from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset, page_of
from services.registry.enterprises.models import Enterprise
from services.registry.indicators.models import Indicators
from services.registry.pool.models import PoolDecision, Screening, ScreeningResult


async def enterprises_in(session: AsyncSession, region: str | None) -> list[dict[str, Any]]:
    stmt = select(
        Enterprise.credit_code,
        Enterprise.name,
        Enterprise.region_code,
        Enterprise.industry_code,
        Enterprise.established_on,
    )
    if region:
        stmt = stmt.where(Enterprise.region_code.like(region + "%"))
    return [dict(r._mapping) for r in await session.execute(stmt.order_by(Enterprise.credit_code))]


async def indicators_in(
    session: AsyncSession, region: str | None, years: list[int]
) -> dict[str, dict[int, dict]]:
    cols = [c for c in Indicators.__table__.c]
    stmt = select(*cols).where(Indicators.year.in_(years))
    if region:
        stmt = stmt.join(Enterprise, Enterprise.credit_code == Indicators.credit_code).where(
            Enterprise.region_code.like(region + "%")
        )
    out: dict[str, dict[int, dict]] = {}
    for r in await session.execute(stmt):
        m = dict(r._mapping)
        out.setdefault(m["credit_code"], {})[m["year"]] = m
    return out


async def add_screening(session: AsyncSession, screening: Screening) -> Screening:
    session.add(screening)
    await session.flush()
    await session.refresh(screening)
    return screening


async def add_results(session: AsyncSession, screening_id: int, rows: list[tuple[str, str, list]]) -> None:
    """Set-based: one INSERT … SELECT FROM unnest(…) for all candidates."""
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO registry.screening_results (screening_id, credit_code, outcome, criteria) "
            "SELECT :sid, c, o, j::jsonb FROM unnest(CAST(:codes AS text[]), CAST(:outcomes AS text[]), "
            "CAST(:criteria AS text[])) AS t(c, o, j)"
        ),
        {
            "sid": screening_id,
            "codes": [r[0] for r in rows],
            "outcomes": [r[1] for r in rows],
            "criteria": [json.dumps(r[2], ensure_ascii=False) for r in rows],
        },
    )


async def get_screening(session: AsyncSession, screening_id: int) -> Screening | None:
    return await session.get(Screening, screening_id)


async def candidates(session: AsyncSession, screening_id: int, outcome: str | None, params: PageParams):
    stmt = (
        select(ScreeningResult, Enterprise.name, Enterprise.region_code)
        .join(Enterprise, Enterprise.credit_code == ScreeningResult.credit_code)
        .where(ScreeningResult.screening_id == screening_id)
    )
    if outcome:
        stmt = stmt.where(ScreeningResult.outcome == outcome)
    stmt = keyset(stmt, [ScreeningResult.credit_code], params)
    rows = list((await session.execute(stmt)).all())
    return page_of(rows, params, lambda r: (r[0].credit_code,))


async def add_decision(session: AsyncSession, decision: PoolDecision) -> PoolDecision:
    session.add(decision)
    await session.flush()
    await session.refresh(decision)
    return decision


async def history(session: AsyncSession, code: str) -> list[PoolDecision]:
    stmt = (
        select(PoolDecision)
        .where(PoolDecision.credit_code == code)
        .order_by(PoolDecision.year, PoolDecision.id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def current_tier(session: AsyncSession, code: str) -> str | None:
    return (await session.execute(select(Enterprise.tier).where(Enterprise.credit_code == code))).scalar()


async def members(
    session: AsyncSession, region: str | None, tier: str | None, year: int | None, params: PageParams
):
    stmt = select(
        Enterprise.credit_code,
        Enterprise.name,
        Enterprise.region_code,
        Enterprise.industry_code,
        Enterprise.size_class,
        Enterprise.tier,
        Enterprise.tier_year,
    ).where(Enterprise.tier.is_not(None))
    if region:
        stmt = stmt.where(Enterprise.region_code.like(region + "%"))
    if tier:
        stmt = stmt.where(Enterprise.tier == tier)
    if year:
        stmt = stmt.where(Enterprise.tier_year == year)
    stmt = keyset(stmt, [Enterprise.credit_code], params)
    rows = [dict(r._mapping) for r in await session.execute(stmt)]
    return page_of(rows, params, lambda r: (r["credit_code"],))
