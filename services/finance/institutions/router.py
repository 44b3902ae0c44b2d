"""Institutions: admins register banks and guarantors; every caller may list them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.auth import CurrentPrincipal, require_kind
from services.common.conditional import IfNoneMatch, json_answer, representation
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, responses
from services.common.pagination import Page, Pagination, page_of
from services.finance.errors import InstitutionExists
from services.finance.fields import Ref
from services.finance.institutions import repository, service
from services.finance.institutions.schemas import InstitutionIn, InstitutionOut, Kind

router = APIRouter(tags=["institutions"])


@router.post(
    "/v1/institutions",
    status_code=201,
    summary="Register a bank or guarantee institution (admin)",
    dependencies=[require_kind("admin")],
    responses=responses(Forbidden, InstitutionExists),
)
async def create_institution(
    body: InstitutionIn, session: DbSession, principal: CurrentPrincipal
) -> InstitutionOut:
    return InstitutionOut.model_validate(await service.register(session, principal, body))


@router.get(
    "/v1/institutions",
    summary="List institutions (ordered by code)",
    responses=responses(InvalidCursor),
)
async def list_institutions(
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    kind: Annotated[Kind | None, Query()] = None,
) -> Page[InstitutionOut]:
    rows = await repository.list_institutions(session, page, kind)
    rows, cursor = page_of(rows, page, lambda r: (r.code,))
    return Page[InstitutionOut](items=[InstitutionOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/v1/institutions/{code}",
    summary="One institution",
    description="With `ETag`; `If-None-Match` with it: 304 while nothing changed.",
    response_model=InstitutionOut,
    responses=responses(NotFound),
)
async def get_institution(
    code: Annotated[Ref, Path(description="Institution code")],
    session: DbSession,
    principal: CurrentPrincipal,
    if_none_match: IfNoneMatch = None,
) -> Response:
    return json_answer(representation(await service.get(session, code)), if_none_match)
