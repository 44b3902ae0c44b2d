"""All SQL of the progress bulletin: the programme targets (data, per programme, year, region)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ProgrammeTarget


class TargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def targets(self, programme: str, year: int, region: str) -> list[ProgrammeTarget]:
        stmt = (
            select(ProgrammeTarget)
            .where(
                ProgrammeTarget.programme == programme,
                ProgrammeTarget.year == year,
                ProgrammeTarget.region_code == region,
            )
            .order_by(ProgrammeTarget.position, ProgrammeTarget.key)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def regions_with_targets(self, programme: str, year: int) -> list[str]:
        stmt = (
            select(ProgrammeTarget.region_code)
            .where(ProgrammeTarget.programme == programme, ProgrammeTarget.year == year)
            .distinct()
            .order_by(ProgrammeTarget.region_code)
        )
        return list((await self.session.execute(stmt)).scalars())
