from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.pagination import PageParams, keyset, page_of
from services.common.scope import RegionScope
from services.common.today import today_shanghai
from services.registry.enterprises.models import Enterprise
from services.registry.parks.models import Park, ParkTenant


def _tenant_count():
    today = today_shanghai()
    return (
        select(func.count())
        .where(
            ParkTenant.park_id == Park.id,
            ParkTenant.moved_in_on <= today,
            or_(ParkTenant.moved_out_on.is_(None), ParkTenant.moved_out_on > today),
        )
        .scalar_subquery()
        .label("tenants")
    )


def _scoped(stmt, scope: RegionScope):
    return stmt.where(scope.clause(Park.region_code)) if scope.restricted else stmt


async def get(session: AsyncSession, principal: Principal, park_id: int, lock: bool = False) -> Park | None:
    stmt = _scoped(select(Park).where(Park.id == park_id), RegionScope.of(principal))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def tenants_now(session: AsyncSession, park_id: int) -> int:
    today = today_shanghai()
    stmt = select(func.count()).where(
        ParkTenant.park_id == park_id,
        ParkTenant.moved_in_on <= today,
        or_(ParkTenant.moved_out_on.is_(None), ParkTenant.moved_out_on > today),
    )
    return (await session.execute(stmt)).scalar_one()


async def name_taken(session: AsyncSession, region_code: str, name: str, exclude: int | None = None) -> bool:
    stmt = select(Park.id).where(Park.region_code == region_code, Park.name == name)
    if exclude:
        stmt = stmt.where(Park.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def add(session: AsyncSession, park: Park) -> Park:
    session.add(park)
    await session.flush()
    await session.refresh(park)
    return park


async def list_page(session, scope: RegionScope, stars, min_stars, params: PageParams):
    """The parks in `scope` (the caller's region, narrowed by the list's region filter)."""
    stmt = _scoped(select(Park, _tenant_count()), scope)
    if stars:
        stmt = stmt.where(Park.star_rating == stars)
    if min_stars:
        stmt = stmt.where(Park.star_rating >= min_stars)
    stmt = keyset(stmt, [Park.id], params)
    rows = list((await session.execute(stmt)).all())
    return page_of(rows, params, lambda r: (r[0].id,))


async def tenancy(session: AsyncSession, park_id: int, code: str) -> ParkTenant | None:
    return await session.get(ParkTenant, (park_id, code))


async def upsert_tenancy(session: AsyncSession, park_id: int, code: str, moved_in_on, moved_out_on) -> None:
    stmt = pg_insert(ParkTenant.__table__).values(
        park_id=park_id, credit_code=code, moved_in_on=moved_in_on, moved_out_on=moved_out_on
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["park_id", "credit_code"],
        set_={"moved_in_on": moved_in_on, "moved_out_on": moved_out_on, "updated_at": func.now()},
    )
    await session.execute(stmt)


async def tenants(session: AsyncSession, park_id: int, current: bool, params: PageParams):
    stmt = (
        select(ParkTenant, Enterprise.name)
        .join(Enterprise, Enterprise.credit_code == ParkTenant.credit_code)
        .where(ParkTenant.park_id == park_id)
    )
    if current:
        today = today_shanghai()
        stmt = stmt.where(
            and_(
                ParkTenant.moved_in_on <= today,
                or_(ParkTenant.moved_out_on.is_(None), ParkTenant.moved_out_on > today),
            )
        )
    stmt = keyset(stmt, [ParkTenant.credit_code], params)
    rows = list((await session.execute(stmt)).all())
    return page_of(rows, params, lambda r: (r[0].credit_code,))
