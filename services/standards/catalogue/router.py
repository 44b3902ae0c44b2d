"""Catalogue HTTP: standards (admin, officials write; every principal reads) and drafting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import StringConstraints

from services.common.auth import CurrentPrincipal, Principal, require_kind
from services.common.conditional import IfMatch, IfNoneMatch, json_answer, representation, tagged_json
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, PreconditionFailed, Required, responses
from services.common.pagination import Page, Pagination
from services.common.readpool import CallerReads
from services.common.types import CreditCode, text
from services.standards.catalogue import service
from services.standards.catalogue.schemas import (
    DrafterIn,
    DrafterOut,
    EnterpriseStandardOut,
    Level,
    StandardCreate,
    StandardOut,
    StandardPatch,
    StandardStatus,
)
from services.standards.errors import InvalidStandardCode, LevelMismatch, StandardExists

router = APIRouter(tags=["standards catalogue"])
Writer = Annotated[Principal, require_kind("admin", "official")]
CodePath = Annotated[
    text(StringConstraints(min_length=1, max_length=80)),
    Path(
        description="Standard number, URL-encoded (`T%2FZZB%200001%E2%80%942023`); hyphen or em-dash",
    ),
]


@router.post(
    "/v1/standards",
    status_code=201,
    summary="Add a standard to the catalogue",
    responses=responses(Forbidden, StandardExists),
)
async def create_standard(body: StandardCreate, session: DbSession, principal: Writer) -> StandardOut:
    return await service.create(session, principal, body)


@router.get(
    "/v1/standards",
    summary="Search the catalogue",
    description="Ordered by code. `q` matches code or title (case-insensitive substring).",
    responses=responses(InvalidCursor),
)
async def list_standards(
    reads: CallerReads,
    principal: CurrentPrincipal,
    page: Pagination,
    q: Annotated[
        text(StringConstraints(max_length=200)) | None, Query(description="Substring of code or title")
    ] = None,
    level: Level | None = None,
    status: StandardStatus | None = None,
) -> Page[StandardOut]:
    items, cursor = await service.list_(reads, page, q, level, status)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/v1/standards/{code:path}/drafters",
    summary="Record an enterprise as lead (主导) or participant in drafting a standard",
    description="Idempotent on (standard, enterprise): posting again with another role changes the role. "
    "201 when the enterprise is new to the standard, 200 otherwise. Officials only for enterprises "
    "in their region.",
    responses={200: {"model": DrafterOut, "description": "Already recorded (role kept or changed)"}}
    | responses(Forbidden, NotFound, InvalidStandardCode),
    status_code=201,
)
async def add_drafter(
    code: CodePath, body: DrafterIn, session: DbSession, principal: Writer, response: Response
) -> DrafterOut:
    out, inserted = await service.add_drafter(session, principal, code, body)
    if not inserted:
        response.status_code = 200
    return out


@router.get(
    "/v1/standards/{code:path}",
    summary="One standard by number",
    description="With `ETag`; `If-None-Match` with it: 304 while nothing changed.",
    response_model=StandardOut,
    responses=responses(NotFound, InvalidStandardCode),
)
async def get_standard(
    code: CodePath, session: DbSession, principal: CurrentPrincipal, if_none_match: IfNoneMatch = None
) -> Response:
    return json_answer(representation(await service.get(session, code)), if_none_match)


@router.patch(
    "/v1/standards/{code:path}",
    summary="Change a standard (title, level, status, publication date, adoption)",
    description="With `If-Match` (the standard's `ETag`): 412 `precondition_failed` when it changed "
    "since, nothing written. The answer is the standard after the change, with its `ETag`.",
    response_model=StandardOut,
    responses=responses(
        Forbidden, NotFound, InvalidStandardCode, LevelMismatch, Required, PreconditionFailed
    ),
)
async def update_standard(
    code: CodePath, body: StandardPatch, session: DbSession, principal: Writer, if_match: IfMatch = None
) -> Response:
    return tagged_json(representation(await service.patch(session, principal, code, body, if_match)))


@router.get(
    "/v1/enterprises/{credit_code}/standards",
    summary="Standards an enterprise drafted, with its role",
    description="Officials see enterprises in their region only (404 otherwise).",
    responses=responses(InvalidCursor, Forbidden, NotFound),
)
async def list_enterprise_standards(
    credit_code: Annotated[CreditCode, Path()],
    session: DbSession,
    principal: Annotated[Principal, require_kind("admin", "official")],
    page: Pagination,
) -> Page[EnterpriseStandardOut]:
    items, cursor = await service.enterprise_standards(session, principal, credit_code, page)
    return Page(items=items, next_cursor=cursor)
