from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, RegionOutOfScope, responses
from services.common.pagination import Page, Pagination
from services.registry.errors import INVALID_CREDIT_CODE, YearOutOfRange
from services.registry.indicators import service
from services.registry.indicators.schemas import IndicatorsIn, IndicatorsOut, max_year
from services.registry.scope import Manager, PathCreditCode

router = APIRouter(prefix="/v1", tags=["indicators"])


@router.put(
    "/enterprises/{credit_code}/indicators/{year}",
    summary="Record (or replace) one year's indicators",
    responses={
        **responses(Forbidden, NotFound, YearOutOfRange, *INVALID_CREDIT_CODE),
        201: {"model": IndicatorsOut, "description": "Created"},
    },
)
async def put_indicators(
    credit_code: PathCreditCode,
    year: Annotated[int, Path(ge=1949, le=2100, description="Indicator year (1949 – next year)")],
    body: IndicatorsIn,
    session: DbSession,
    principal: Manager,
    response: Response,
) -> IndicatorsOut:
    """Replaces the year's figures. The response adds the year's size class with its deciding
    indicators, and the derived ratios (R&D intensity, main-business share, debt ratio, CNC rate).
    201 when the year is new, 200 when replaced."""
    if year > max_year():
        raise YearOutOfRange(f"year must be 1949–{max_year()}", pointer="#/path/year")
    out, created = await service.put(session, principal, credit_code, year, body)
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/enterprises/{credit_code}/indicators",
    summary="The years of indicators on record",
    responses=responses(InvalidCursor, Forbidden, RegionOutOfScope, NotFound, *INVALID_CREDIT_CODE),
)
async def list_indicators(
    credit_code: PathCreditCode, session: DbSession, principal: Manager, page: Pagination
) -> Page[IndicatorsOut]:
    items, cursor = await service.list_years(session, principal, credit_code, page)
    return Page(items=items, next_cursor=cursor)
