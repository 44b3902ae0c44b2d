"""All SQL of service institutions and reported figures; region scoping is applied here."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import PageParams, keyset, page_of
from services.common.scope import RegionScope
from services.registry.institutions.models import ReportedFigure, ServiceInstitution


async def add(session: AsyncSession, row):
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def credit_code_taken(session: AsyncSession, code: str) -> bool:
    stmt = select(ServiceInstitution.id).where(ServiceInstitution.credit_code == code)
    return (await session.execute(stmt)).first() is not None


async def get_institution(session: AsyncSession, scope: RegionScope, id_: int) -> ServiceInstitution | None:
    stmt = select(ServiceInstitution).where(
        ServiceInstitution.id == id_, scope.clause(ServiceInstitution.region_code)
    )
    return (await session.execute(stmt)).scalars().first()


async def list_institutions(session: AsyncSession, scope: RegionScope, kind: str | None, params: PageParams):
    stmt = select(ServiceInstitution).where(scope.clause(ServiceInstitution.region_code))
    if kind:
        stmt = stmt.where(ServiceInstitution.kind == kind)
    stmt = keyset(stmt, [ServiceInstitution.id], params)
    rows = list((await session.execute(stmt)).scalars().all())
    return page_of(rows, params, lambda r: (r.id,))


async def institution_figures(session: AsyncSession, scope: RegionScope, as_of: date) -> tuple[int, set[str]]:
    """(institutions recognised by as_of in scope, the county codes with a platform recognised by as_of)."""
    stmt = select(ServiceInstitution.region_code, ServiceInstitution.kind).where(
        scope.clause(ServiceInstitution.region_code), ServiceInstitution.recognised_on <= as_of
    )
    rows = (await session.execute(stmt)).all()
    return len(rows), {r.region_code for r in rows if r.kind == "platform"}


async def list_reported(
    session: AsyncSession, scope: RegionScope, key: str | None, region: str | None, params: PageParams
):
    stmt = select(ReportedFigure).where(scope.clause(ReportedFigure.region_code))
    if key:
        stmt = stmt.where(ReportedFigure.key == key)
    if region:
        stmt = stmt.where(ReportedFigure.region_code == region)
    stmt = keyset(stmt, [ReportedFigure.id], params)
    rows = list((await session.execute(stmt)).scalars().all())
    return page_of(rows, params, lambda r: (r.id,))


async def latest_reported(
    session: AsyncSession, region: str, start: date, as_of: date
) -> dict[str, ReportedFigure]:
    """Per key, the figure of `region` for the latest period ending in [start, as_of]; of the rows
    for that period, the last appended (a correction replaces what it corrects)."""
    stmt = (
        select(ReportedFigure)
        .where(
            ReportedFigure.region_code == region,
            ReportedFigure.period_end >= start,
            ReportedFigure.period_end <= as_of,
        )
        .distinct(ReportedFigure.key)
        .order_by(ReportedFigure.key, ReportedFigure.period_end.desc(), ReportedFigure.id.desc())
    )
    return {r.key: r for r in (await session.execute(stmt)).scalars().all()}
