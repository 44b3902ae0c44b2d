"""Setting and reading a region's yearly targets (每年制定目标任务).

Who sets them: the leadership office, i.e. an admin or an official of the whole province; a city
or county official reads its own region's targets but sets none. A PUT replaces the region's
whole target set for the programme and year (keys it leaves out have no target there afterwards).
Each item names an indicator of the programme in the indicator's own unit; the window defaults
to the indicator's (services/common/targets.py, `Indicator.default_window`).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_change
from services.common.errors import Forbidden
from services.common.regions import region as region_info
from services.common.scope import RegionScope
from services.common.targets import Indicator, indicators_of, value_text
from services.registry.errors import TargetRegionNotCurrent, TargetsInvalid, UnknownProgramme
from services.registry.targets.models import ProgrammeTarget
from services.registry.targets.schemas import TargetItemOut, TargetsIn, TargetsOut


def may_set_targets(principal: Principal) -> bool:
    return principal.kind == "admin" or (
        principal.kind == "official" and RegionScope.of(principal).whole_province
    )


async def _indicators(session: AsyncSession, programme: str) -> list[Indicator]:
    found = await indicators_of(session, programme)
    if not found:
        raise UnknownProgramme(programme=programme)
    return found


def _current(region: str) -> None:
    r = region_info(region)
    if r is None or r.retired:
        successors = f" (its successors: {', '.join(r.successors)})" if r and r.successors else ""
        raise TargetRegionNotCurrent(region=region, successors=successors)


def _validate(body: TargetsIn, year: int, by_key: dict[str, Indicator]) -> list[dict]:
    errors: list[dict] = []
    seen: set[str] = set()
    rows = []
    for i, item in enumerate(body.items):
        at = f"/items/{i}"
        ind = by_key.get(item.key)
        if ind is None:
            errors.append({"pointer": f"{at}/key", "code": "unknown_indicator",
                           "message": f"{item.key} is not an indicator of this programme"})  # fmt: skip
            continue
        if item.key in seen:
            errors.append({"pointer": f"{at}/key", "code": "duplicate_key",
                           "message": f"{item.key} is given twice"})  # fmt: skip
            continue
        seen.add(item.key)
        if item.unit != ind.unit:
            errors.append({"pointer": f"{at}/unit", "code": "unit_mismatch",
                           "message": f"{item.key} is counted in {ind.unit}, not {item.unit}"})  # fmt: skip
        if ind.unit == "percent" and item.target > 100:
            errors.append({"pointer": f"{at}/target", "code": "percent_above_100",
                           "message": "a percent target is at most 100"})  # fmt: skip
        start, end = ind.default_window(year)
        start, end = item.window_start or start, item.window_end or end
        if start > end:
            errors.append({"pointer": f"{at}/window_end", "code": "window_reversed",
                           "message": "window_end is before window_start"})  # fmt: skip
        elif not start.year <= year <= end.year:
            errors.append({"pointer": f"{at}/window_start", "code": "window_outside_year",
                           "message": f"the window must include the year {year}"})  # fmt: skip
        rows.append((ind, item, start, end))
    if errors:
        raise TargetsInvalid(f"{len(errors)} problem(s) in the targets", errors=errors)
    return rows


async def read(
    session: AsyncSession, principal: Principal, programme: str, year: int, region: str
) -> TargetsOut:
    RegionScope.of(principal).require(region, "#/path/region")
    indicators = await _indicators(session, programme)
    set_ = {
        t.key: t
        for t in (
            await session.scalars(
                select(ProgrammeTarget).where(
                    ProgrammeTarget.programme == programme,
                    ProgrammeTarget.year == year,
                    ProgrammeTarget.region_code == region,
                )
            )
        )
    }
    items = []
    for ind in indicators:
        t = set_.get(ind.key)
        items.append(
            TargetItemOut(
                key=ind.key,
                name_zh=ind.name_zh,
                target=value_text(t.value, ind.unit) if t else None,
                unit=ind.unit,
                owner_service=ind.owner_service,
                window_start=t.window_start if t else None,
                window_end=t.window_end if t else None,
            )
        )
    return TargetsOut(programme=programme, year=year, region=region, items=items)


async def replace(
    session: AsyncSession, principal: Principal, programme: str, year: int, region: str, body: TargetsIn
) -> TargetsOut:
    if not may_set_targets(principal):
        raise Forbidden("targets are set by the leadership office: an admin or a province official")
    _current(region)
    indicators = await _indicators(session, programme)
    rows = _validate(body, year, {i.key: i for i in indicators})
    before = await read(session, principal, programme, year, region)
    await session.execute(
        delete(ProgrammeTarget).where(
            ProgrammeTarget.programme == programme,
            ProgrammeTarget.year == year,
            ProgrammeTarget.region_code == region,
        )
    )
    for ind, item, start, end in rows:
        session.add(
            ProgrammeTarget(
                programme=programme,
                programme_name=ind.programme_name,
                year=year,
                region_code=region,
                key=ind.key,
                position=ind.position,
                name_zh=ind.name_zh,
                value=item.target,
                unit=ind.unit,
                owner_service=ind.owner_service,
                window_start=start,
                window_end=end,
                note=None,
                data_version=f"set by {principal.kind} {principal.sub}",
            )
        )
    await session.flush()
    after = await read(session, principal, programme, year, region)
    await record_change(
        session,
        "registry",
        principal,
        Change(
            "replaced",
            "programme_targets",
            f"{programme}/{year}/{region}",
            {i.key: i.model_dump(mode="json") for i in before.items if i.target is not None},
            {i.key: i.model_dump(mode="json") for i in after.items if i.target is not None},
        ),
    )
    return after
