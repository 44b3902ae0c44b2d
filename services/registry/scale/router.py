from __future__ import annotations

from fastapi import APIRouter

from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, responses
from services.common.pagination import Page
from services.registry.errors import INVALID_CREDIT_CODE, YearOutOfRange
from services.registry.scale import service
from services.registry.scale.schemas import ScaleStatusIn, ScaleStatusOut
from services.registry.scope import Manager, PathCreditCode

router = APIRouter(prefix="/v1", tags=["scale status"])


@router.post(
    "/enterprises/{credit_code}/scale-status",
    status_code=201,
    summary="Record a 规上 (above-scale) status fact",
    responses=responses(Forbidden, NotFound, YearOutOfRange, *INVALID_CREDIT_CODE),
)
async def add_scale_status(
    credit_code: PathCreditCode, body: ScaleStatusIn, session: DbSession, principal: Manager
) -> ScaleStatusOut:
    """Entry into (or exit from) the statistics bureau's above-scale directory as a dated fact.
    History is kept; the current status is the fact with the latest effective year."""
    return await service.add(session, principal, credit_code, body)


@router.get(
    "/enterprises/{credit_code}/scale-status",
    summary="Scale-status history (小升规 entries marked)",
    responses=responses(Forbidden, NotFound, *INVALID_CREDIT_CODE),
)
async def list_scale_status(
    credit_code: PathCreditCode, session: DbSession, principal: Manager
) -> Page[ScaleStatusOut]:
    return Page(items=await service.history(session, principal, credit_code), next_cursor=None)
