"""Adoption HTTP (officials for their region, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.common.auth import Principal, require_kind
from services.common.conditional import (
    ETAG_HEADER,
    NOT_MODIFIED,
    IfMatch,
    IfNoneMatch,
    json_answer,
    representation,
    tagged,
    tagged_json,
)
from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, PreconditionFailed, responses
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
        "NEQ products are kept but not counted. 201 when the year is new, 200 when replaced. With "
        "`If-Match` (the report's `ETag`): 412 `precondition_failed` when it changed since, or when "
        "there is no report for the year yet, nothing written. The answer carries the new `ETag`."
    ),
    status_code=200,
    response_model=AdoptionOut,
    responses=tagged(200, "Replaced")
    | {201: {"model": AdoptionOut, "description": "Created", "headers": ETAG_HEADER}}
    | responses(Forbidden, NotFound, PreconditionFailed),
)
async def put_adoption(
    credit_code: Annotated[CreditCode, Path()],
    year: Year,
    body: AdoptionIn,
    session: DbSession,
    principal: Official,
    if_match: IfMatch = None,
) -> Response:
    out, created = await service.put(session, principal, credit_code, year, body, if_match)
    return tagged_json(representation(out), 201 if created else 200)


@router.get(
    "/v1/enterprises/{credit_code}/adoption/{year}",
    summary="An enterprise's adoption report for a year",
    description="With `ETag`; `If-None-Match` with it: 304 while nothing changed.",
    response_model=AdoptionOut,
    responses=tagged() | NOT_MODIFIED | responses(Forbidden, NotFound),
)
async def get_adoption(
    credit_code: Annotated[CreditCode, Path()],
    year: Year,
    session: DbSession,
    principal: Official,
    if_none_match: IfNoneMatch = None,
) -> Response:
    return json_answer(
        representation(await service.get(session, principal, credit_code, year)), if_none_match
    )
