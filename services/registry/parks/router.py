from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.conditional import IfMatch, IfNoneMatch, json_answer, representation, tagged_json
from services.common.db import DbSession
from services.common.errors import (
    Forbidden,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    RegionOutOfScope,
    Required,
    responses,
)
from services.common.pagination import Page, Pagination
from services.common.scope import RegionScope
from services.common.types import RegionPrefix
from services.registry.errors import INVALID_CREDIT_CODE, ParkExists
from services.registry.parks import repository as repo
from services.registry.parks import service
from services.registry.parks.schemas import ParkIn, ParkOut, ParkPatch, TenancyIn, TenancyOut
from services.registry.scope import Manager, PathCreditCode

router = APIRouter(prefix="/v1", tags=["parks"])
ParkId = Annotated[int, Path(ge=1, le=2**62)]


@router.post(
    "/parks",
    status_code=201,
    summary="Register a 小微企业园",
    responses=responses(Forbidden, RegionOutOfScope, ParkExists),
)
async def create_park(body: ParkIn, session: DbSession, principal: Manager) -> ParkOut:
    return await service.create(session, principal, body)


@router.get("/parks", summary="List parks", responses=responses(InvalidCursor, Forbidden, RegionOutOfScope))
async def list_parks(
    session: DbSession,
    principal: Manager,
    page: Pagination,
    region: Annotated[RegionPrefix | None, Query()] = None,
    stars: Annotated[int | None, Query(ge=1, le=5, description="Exact star rating")] = None,
    min_stars: Annotated[int | None, Query(ge=1, le=5, description="At least this many stars")] = None,
) -> Page[ParkOut]:
    scope = RegionScope.of(principal).narrow(region)
    rows, cursor = await repo.list_page(session, scope, stars, min_stars, page)
    return Page(items=[service.to_out(p, n) for p, n in rows], next_cursor=cursor)


@router.get(
    "/parks/{park_id}", summary="One park", response_model=ParkOut, responses=responses(Forbidden, NotFound)
)
async def get_park(
    park_id: ParkId, session: DbSession, principal: Manager, if_none_match: IfNoneMatch = None
) -> Response:
    """With `ETag`; `If-None-Match` with it: 304 while nothing changed."""
    return json_answer(representation(await service.get(session, principal, park_id)), if_none_match)


@router.patch(
    "/parks/{park_id}",
    summary="Change a park (rating, demo base, …)",
    response_model=ParkOut,
    responses=responses(Forbidden, RegionOutOfScope, NotFound, ParkExists, Required, PreconditionFailed),
)
async def patch_park(
    park_id: ParkId, body: ParkPatch, session: DbSession, principal: Manager, if_match: IfMatch = None
) -> Response:
    """With `If-Match` (the park's `ETag`): 412 `precondition_failed` when it changed since,
    nothing written. The answer is the park after the change, with its `ETag`."""
    return tagged_json(representation(await service.patch(session, principal, park_id, body, if_match)))


@router.put(
    "/parks/{park_id}/tenants/{credit_code}",
    summary="Record an enterprise's tenancy in a park",
    responses={
        **responses(Forbidden, NotFound, *INVALID_CREDIT_CODE),
        201: {"model": TenancyOut, "description": "Created"},
    },
)
async def put_park_tenant(
    park_id: ParkId,
    credit_code: PathCreditCode,
    body: TenancyIn,
    session: DbSession,
    principal: Manager,
    response: Response,
) -> TenancyOut:
    """Moving in (moved_out_on empty) or out; 201 for a new tenancy, 200 when changed."""
    out, created = await service.put_tenant(session, principal, park_id, credit_code, body)
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/parks/{park_id}/tenants",
    summary="A park's tenants",
    responses=responses(InvalidCursor, Forbidden, NotFound),
)
async def list_park_tenants(
    park_id: ParkId,
    session: DbSession,
    principal: Manager,
    page: Pagination,
    current: Annotated[bool, Query(description="Only tenancies in force today")] = True,
) -> Page[TenancyOut]:
    items, cursor = await service.tenants(session, principal, park_id, current, page)
    return Page(items=items, next_cursor=cursor)
