"""Adoption HTTP (officials for their region, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.common.auth import Principal, require_kind
from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, responses
from services.common.types import CreditCode
from services.standards.adoption import service
from services.standards.adoption.schemas import AdoptionIn, AdoptionOut

router = APIRouter(tags=["adoption"])
Official = Annotated[Principal, require_kind("admin", "official")]
Year = Annotated[int, Path(ge=2000, le=2100)]


@router.put(
    "/v1/enterprises/{credit_code}/adoption/{year}",
    summary="Record an enterprise's main-product standards adoption (采标) for a year",
    description=(
        "Replaces the year's report. The rate counts only IDT (identical) and MOD (modified) adoption; "
        "NEQ products are kept but not counted. 201 when the year is new, 200 when replaced."
    ),
    status_code=200,
    responses={201: {"model": AdoptionOut, "description": "Created"}} | responses(Forbidden, NotFound),
)
async def put_adoption(
    credit_code: Annotated[CreditCode, Path()],
    year: Year,
    body: AdoptionIn,
    session: DbSession,
    principal: Official,
    response: Response,
) -> AdoptionOut:
    out, created = await service.put(session, principal, credit_code, year, body)
    if created:
        response.status_code = 201
    return out


@router.get(
    "/v1/enterprises/{credit_code}/adoption/{year}",
    summary="An enterprise's adoption report for a year",
    responses=responses(Forbidden, NotFound),
)
async def get_adoption(
    credit_code: Annotated[CreditCode, Path()], year: Year, session: DbSession, principal: Official
) -> AdoptionOut:
    return await service.get(session, principal, credit_code, year)
