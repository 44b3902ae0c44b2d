"""The programme targets, as every process reads them: one reader of the registry's published view
`registry.programme_target_directory` (docs/contracts.md; the table and its data file belong to the
registry, domain.md §1).

Each service's `GET /v1/stats` reports its figures against the targets it owns, and the gateway's
progress bulletin sets those figures beside the same rows, so a target's value, unit and window
(the period its figure is measured over and the bulletin's elapsed share is taken of) have this one
source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import raw_connection

VIEW = "registry.programme_target_directory"
# The targets the services' statistics report against: the programme's province-wide targets,
# whatever year or region the statistics are asked for. The bulletin shows these by default and
# may be asked for another programme, year or region.
REPORTED = ("chuying-2022", 2022, "330000")


@dataclass(frozen=True)
class ProgrammeTarget:
    programme: str
    programme_name: str
    year: int
    region_code: str
    key: str
    position: int
    name_zh: str
    value: Decimal
    unit: str
    owner_service: str  # registry | finance | standards | none (not tracked by this platform)
    window_start: date
    window_end: date
    note: str | None
    data_version: str

    @property
    def value_text(self) -> str:
        """The value as the services' statistics show it: yuan with 2 places (money), any other
        unit without a fractional part it does not have ("60000", "70")."""
        if self.unit == "yuan":
            return f"{self.value:.2f}"
        return format(self.value.normalize(), "f")

    @property
    def window_years(self) -> list[int]:
        return list(range(self.window_start.year, self.window_end.year + 1))


_COLUMNS = ", ".join(ProgrammeTarget.__dataclass_fields__)


async def _conn(db: AsyncSession | asyncpg.Connection) -> asyncpg.Connection:
    return await raw_connection(db) if isinstance(db, AsyncSession) else db


async def targets_of(
    db: AsyncSession | asyncpg.Connection,
    programme: str,
    year: int,
    region: str,
    owner: str | None = None,
) -> list[ProgrammeTarget]:
    """The targets of a programme, year and region (of one owner service, if given), in the
    programme's order."""
    conn = await _conn(db)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM {VIEW}
            WHERE programme = $1 AND year = $2 AND region_code = $3
              AND ($4::text IS NULL OR owner_service = $4)
            ORDER BY position, key""",
        programme,
        year,
        region,
        owner,
    )
    return [ProgrammeTarget(**dict(r)) for r in rows]


async def reported_targets(db: AsyncSession | asyncpg.Connection, owner: str) -> dict[str, ProgrammeTarget]:
    """The targets `owner` reports its statistics against (REPORTED), by key."""
    return {t.key: t for t in await targets_of(db, *REPORTED, owner=owner)}


async def regions_with_targets(db: AsyncSession | asyncpg.Connection, programme: str, year: int) -> list[str]:
    conn = await _conn(db)
    rows = await conn.fetch(
        f"SELECT DISTINCT region_code FROM {VIEW} WHERE programme = $1 AND year = $2 ORDER BY region_code",
        programme,
        year,
    )
    return [r["region_code"] for r in rows]
