"""Statistics HTTP (officials for their region or below, admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.common.auth import Principal, require_kind
from services.common.errors import Forbidden, RegionOutOfScope, responses
from services.common.readpool import CallerReads
from services.common.types import RegionCode
from services.standards.stats import service
from services.standards.stats.definitions import description
from services.standards.stats.schemas import StatsOut

router = APIRouter(tags=["statistics"])


@router.get(
    "/v1/stats",
    summary="Standards led, 浙江制造 standards, 品字标 SMEs and the adoption rate",
    description=description(),
    responses=responses(Forbidden, RegionOutOfScope),
)
async def standards_stats(
    reads: CallerReads,
    principal: Annotated[Principal, require_kind("admin", "official")],
    year: Annotated[int, Query(ge=2000, le=2100, description="Calendar year (figures as of 31 December)")],
    region: Annotated[RegionCode | None, Query(description="GB/T 2260 code: 330000, 330100, 330106")] = None,
    group_by: Annotated[
        Literal["city", "county"] | None, Query(description="Add rows per city or county")
    ] = None,
) -> StatsOut:
    return await service.stats(reads, principal, year, region, group_by)
