"""The programme targets and indicators, as every process reads them: one reader of the registry's
published views `registry.programme_target_directory` and `registry.programme_indicator_directory`
(docs/contracts.md; the tables and their data file belong to the registry, domain.md §1).

An indicator is a quantitative commitment of the programme text: one bulletin row in every region
and year. A target is the value the leadership office set for an indicator, a year and a region
(每年制定目标任务); a region without one for a key has no target there (never the province's).

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
INDICATOR_VIEW = "registry.programme_indicator_directory"
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
        return value_text(self.value, self.unit)

    @property
    def window_years(self) -> list[int]:
        return list(range(self.window_start.year, self.window_end.year + 1))


def value_text(value: Decimal, unit: str) -> str:
    """A target or figure as the statistics show it: yuan with 2 places (money), any other unit
    without a fractional part it does not have ("60000", "70")."""
    if unit == "yuan":
        return f"{value:.2f}"
    return format(value.normalize(), "f")


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


# The units a target may be set in, and how the bulletin names them (docs/definitions.md).
UNIT_ZH = {
    "enterprises": "家",
    "yuan": "元",
    "percent": "%",
    "parks": "个",
    "standards": "项",
    "apps": "款",
    "institutions": "家",
}
OWNER_ZH = {
    "registry": "企业库服务 (经信部门)",
    "finance": "金融服务 (金融机构报送)",
    "standards": "标准服务 (市场监管部门)",
    "none": "未纳入平台",
}


@dataclass(frozen=True)
class Indicator:
    programme: str
    programme_name: str
    key: str
    position: int
    name_zh: str
    unit: str
    owner_service: str
    default_window_years: int
    source_document: str
    settled: bool
    note: str | None
    data_version: str

    def default_window(self, year: int) -> tuple[date, date]:
        """The window of a target set for `year` without one: the indicator's years up to `year`."""
        return date(year - self.default_window_years + 1, 1, 1), date(year, 12, 31)


_INDICATOR_COLUMNS = ", ".join(Indicator.__dataclass_fields__)


async def indicators_of(db: AsyncSession | asyncpg.Connection, programme: str) -> list[Indicator]:
    """Every indicator of a programme (its bulletin rows), in the programme's order."""
    conn = await _conn(db)
    rows = await conn.fetch(
        f"SELECT {_INDICATOR_COLUMNS} FROM {INDICATOR_VIEW} WHERE programme = $1 ORDER BY position, key",
        programme,
    )
    return [Indicator(**dict(r)) for r in rows]
