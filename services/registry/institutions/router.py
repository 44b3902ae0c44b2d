"""`/v1/service-institutions` (省级以上示范服务机构/平台) and `/v1/reported-figures` (figures other
departments own, appended with their source document)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, RegionOutOfScope, responses
from services.common.pagination import Page, Pagination
from services.common.scope import RegionScope
from services.common.types import RegionCode, RegionPrefix
from services.registry.errors import INVALID_CREDIT_CODE, InstitutionExists, ReportedUnitMismatch
from services.registry.institutions import repository as repo
from services.registry.institutions import service
from services.registry.institutions.schemas import (
    InstitutionIn,
    InstitutionOut,
    Kind,
    ReportedFigureIn,
    ReportedFigureOut,
    ReportedKey,
)
from services.registry.scope import Manager

router = APIRouter(prefix="/v1", tags=["service institutions"])
InstitutionId = Annotated[int, Path(ge=1, le=2**62)]


@router.post(
    "/service-institutions",
    status_code=201,
    summary="Record a provincial or national 示范服务机构 or 公共服务平台",
    responses=responses(Forbidden, RegionOutOfScope, InstitutionExists, *INVALID_CREDIT_CODE),
)
async def create_service_institution(
    body: InstitutionIn, session: DbSession, principal: Manager
) -> InstitutionOut:
    """By an admin or an official for a county it covers (403 `region_out_of_scope` otherwise)."""
    return await service.create_institution(session, principal, body)


@router.get(
    "/service-institutions",
    summary="List service institutions and platforms",
    responses=responses(InvalidCursor, Forbidden, RegionOutOfScope),
)
async def list_service_institutions(
    session: DbSession,
    principal: Manager,
    page: Pagination,
    region: Annotated[RegionPrefix | None, Query(description="Region prefix within yours")] = None,
    kind: Annotated[Kind | None, Query()] = None,
) -> Page[InstitutionOut]:
    scope = RegionScope.of(principal).narrow(region)
    rows, cursor = await repo.list_institutions(session, scope, kind, page)
    return Page(items=[service.institution_out(r) for r in rows], next_cursor=cursor)


@router.get(
    "/service-institutions/{institution_id}",
    summary="One service institution or platform",
    responses=responses(Forbidden, NotFound),
)
async def get_service_institution(
    institution_id: InstitutionId, session: DbSession, principal: Manager
) -> InstitutionOut:
    return await service.get_institution(session, principal, institution_id)


@router.post(
    "/reported-figures",
    status_code=201,
    summary="Append a figure another department owns (admin or a province official)",
    responses=responses(Forbidden, ReportedUnitMismatch),
)
async def post_reported_figure(
    body: ReportedFigureIn, session: DbSession, principal: Manager
) -> ReportedFigureOut:
    """Never updated: a correction is posted again and the latest row per key, region and
    period_end is the figure the bulletin shows, naming its `source_document`."""
    return await service.report(session, principal, body)


@router.get(
    "/reported-figures",
    summary="The history of reported figures (corrections included), oldest first",
    responses=responses(InvalidCursor, Forbidden, RegionOutOfScope),
)
async def list_reported_figures(
    session: DbSession,
    principal: Manager,
    page: Pagination,
    key: Annotated[ReportedKey | None, Query()] = None,
    region: Annotated[RegionCode | None, Query(description="Exactly this region's figures")] = None,
) -> Page[ReportedFigureOut]:
    scope = RegionScope.of(principal)
    if region is not None:
        scope.require(region, "#/query/region")
    rows, cursor = await repo.list_reported(session, scope, key, region, page)
    return Page(items=[service.reported_out(r) for r in rows], next_cursor=cursor)
