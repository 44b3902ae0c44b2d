from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset, page_of
from services.common.scope import RegionScope, named
from services.registry.enterprises.models import Enterprise
from services.registry.indicators.models import Indicators
from services.registry.pool.models import PoolDecision, Screening, ScreeningResult
from services.registry.titles.db import active

# ---- screening runs (their SQL; the evaluation itself is in evaluation.py) ------------------

INDICATOR_COLUMNS = tuple(c.name for c in Indicators.__table__.c)
ENTERPRISE_FIELDS = ("credit_code", "industry_code", "established_on", "titles")
# The title kinds each enterprise holds today (a screening's title criteria: pool/rules.py).
TITLES_HELD = (
    "ARRAY(SELECT DISTINCT t.kind FROM registry.titles t WHERE t.credit_code = e.credit_code AND "
    + active("t")
    + ")"
)


def screening_input(scope: RegionScope, years: list[int]) -> tuple[str, list]:
    """Every enterprise in `scope` with its indicator rows of `years`, in credit-code order: one
    row per enterprise and year (one of NULL indicators when it has none), so a run reads them as
    one stream and holds one enterprise at a time."""
    indicators = ", ".join(f"i.{c}" for c in INDICATOR_COLUMNS)
    enterprise = ", ".join(
        f"{TITLES_HELD if c == 'titles' else 'e.' + c} AS enterprise_{c}" for c in ENTERPRISE_FIELDS
    )
    args: list[Any] = [years]
    return (
        f"SELECT {enterprise}, {indicators} FROM registry.enterprises e "
        "LEFT JOIN registry.indicators i ON i.credit_code = e.credit_code AND i.year = ANY($1::int[]) "
        f"WHERE {scope.where('e.region_code', _positional(args))} ORDER BY e.credit_code, i.year",
        args,
    )


def count_in(scope: RegionScope) -> tuple[str, list]:
    args: list[Any] = []
    return (
        f"SELECT count(*) FROM registry.enterprises WHERE {scope.where('region_code', _positional(args))}",
        args,
    )


def _positional(args: list[Any]):
    """A `RegionScope.where` binder for asyncpg: appends to `args`, answers `$n`."""

    def bind(value: str) -> str:
        args.append(value)
        return f"${len(args)}::text"

    return bind


PROGRESS = (
    "UPDATE registry.screenings SET progress = $2, total = coalesce($3, total), heartbeat_at = now() "
    "WHERE id = $1 AND status = 'running'"
)
# Its job's run is checked beside it (services/common/jobs.py Run.succeed, same transaction).
FINISH = (
    "UPDATE registry.screenings SET status = 'done', evaluated = $2, eligible = $3, ineligible = $4, "
    "incomplete = $5, progress = $2, total = $2, finished_at = now(), heartbeat_at = now() "
    "WHERE id = $1 AND status = 'running' RETURNING id"
)
# A background screening whose job failed for good (its problem), with the job's failure.
FAIL = (
    "UPDATE registry.screenings SET status = 'failed', error = $2::jsonb, finished_at = now() "
    "WHERE id = $1 AND status = 'running' RETURNING id"
)
RESULT_COLUMNS = ("screening_id", "credit_code", "outcome", "criteria")


async def fewer_than(session: AsyncSession, scope: RegionScope, limit: int) -> int | None:
    """How many enterprises lie in `scope` when fewer than `limit`, else None (counting stops at
    the limit: a province is not counted to decide it is large)."""
    params: dict[str, Any] = {"n": limit}
    n = (
        await session.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM registry.enterprises "
                f"WHERE {scope.where('region_code', named(params, 'p'))} LIMIT :n) t"
            ),
            params,
        )
    ).scalar_one()
    return n if n < limit else None


async def running_by(session: AsyncSession, created_by: str) -> int:
    """Background screenings of this caller not yet ended (queued or running in the worker)."""
    return (
        await session.execute(
            text("SELECT count(*) FROM registry.screenings WHERE status = 'running' AND created_by = :by"),
            {"by": created_by},
        )
    ).scalar_one()


async def add_screening(session: AsyncSession, screening: Screening) -> Screening:
    session.add(screening)
    await session.flush()
    await session.refresh(screening)
    return screening


async def add_results(session: AsyncSession, screening_id: int, rows: list[tuple[str, str, str]]) -> None:
    """Set-based: one INSERT … SELECT FROM unnest(…) for all candidates (criteria as JSON text)."""
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
            "criteria": [r[2] for r in rows],
        },
    )


async def get_screening(session: AsyncSession, scope: RegionScope, screening_id: int) -> Screening | None:
    """A screening of a region in `scope` (its region or below; a whole-province screening of an
    admin, region NULL, is in no official's scope)."""
    stmt = select(Screening).where(Screening.id == screening_id)
    if scope.restricted:
        stmt = stmt.where(scope.clause(Screening.region))
    return (await session.execute(stmt)).scalars().first()


async def screening_regions(conn: Any, ids: Sequence[int]) -> dict[int, str | None]:
    """The regions of these screenings (None: a whole-province screening), by id; the change
    feed's scope, the column `get_screening` limits."""
    rows = await conn.fetch(
        "SELECT id, region FROM registry.screenings WHERE id = ANY($1::bigint[])", list(ids)
    )
    return {r["id"]: r["region"] for r in rows}


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
    session: AsyncSession, scope: RegionScope, tier: str | None, year: int | None, params: PageParams
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
    if scope.restricted:
        stmt = stmt.where(scope.clause(Enterprise.region_code))
    if tier:
        stmt = stmt.where(Enterprise.tier == tier)
    if year:
        stmt = stmt.where(Enterprise.tier_year == year)
    stmt = keyset(stmt, [Enterprise.credit_code], params)
    rows = [dict(r._mapping) for r in await session.execute(stmt)]
    return page_of(rows, params, lambda r: (r["credit_code"],))
