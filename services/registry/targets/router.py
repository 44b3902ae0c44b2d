"""`/v1/targets/{programme}/{year}/{region}`: a region's yearly targets (每年制定目标任务)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import StringConstraints

from services.common.db import DbSession
from services.common.errors import Forbidden, RegionOutOfScope, responses
from services.common.types import RegionCode, text
from services.registry.errors import TargetRegionNotCurrent, TargetsInvalid, UnknownProgramme
from services.registry.scope import Manager
from services.registry.targets import service
from services.registry.targets.schemas import TargetsIn, TargetsOut

router = APIRouter(prefix="/v1", tags=["targets"])
Programme = Annotated[text(StringConstraints(min_length=1, max_length=64)), Path()]
Year = Annotated[int, Path(ge=2000, le=2100)]
Region = Annotated[RegionCode, Path(description="A current region code: 330000, 330100, 330106")]


@router.get(
    "/targets/{programme}/{year}/{region}",
    summary="A region's targets for a year: every indicator, target null where none is set",
    responses=responses(Forbidden, RegionOutOfScope, UnknownProgramme),
)
async def get_targets(
    programme: Programme, year: Year, region: Region, session: DbSession, principal: Manager
) -> TargetsOut:
    return await service.read(session, principal, programme, year, region)


@router.put(
    "/targets/{programme}/{year}/{region}",
    summary="Set a region's targets for a year (admin or a province official); replaces the set",
    responses=responses(Forbidden, UnknownProgramme, TargetsInvalid, TargetRegionNotCurrent),
)
async def put_targets(
    programme: Programme, year: Year, region: Region, body: TargetsIn, session: DbSession, principal: Manager
) -> TargetsOut:
    """Each item names an indicator of the programme in its unit (422 with a pointer per item
    otherwise); keys left out have no target for the region and year afterwards. A city or county
    official may not set targets (403)."""
    return await service.replace(session, principal, programme, year, region, body)
