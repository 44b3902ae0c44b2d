"""Loan applications: bank batch ingest and scoped list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, responses
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.common.readpool import CallerReads
from services.common.types import CreditCode
from services.finance.applications import repository, service
from services.finance.applications.schemas import ApplicationBatchRequest, ApplicationOut
from services.finance.errors import NoInstitution

router = APIRouter(tags=["loan applications"])


@router.post(
    "/v1/applications/batch",
    summary="Post up to 5,000 loan applications (upsert by the caller's institution + application_ref)",
    description="Same batch semantics as loans; feeds 申贷获得率 in `GET /v1/stats`.",
    response_model=BatchResponse,
    dependencies=[require_kind("bank")],
    responses=responses(Forbidden, NoInstitution),
)
async def post_applications_batch(
    body: ApplicationBatchRequest,
    session: DbSession,
    principal: CurrentPrincipal,
    atomic: AtomicParam = False,
) -> Response:
    return json_data_response(await service.ingest(session, principal, body.records, atomic))


@router.get(
    "/v1/applications",
    summary="List loan applications in the caller's scope",
    dependencies=[require_kind("bank", "official", "admin")],
    responses=responses(InvalidCursor, Forbidden),
)
async def list_applications(
    reads: CallerReads,
    principal: CurrentPrincipal,
    page: Pagination,
    borrower: Annotated[CreditCode | None, Query()] = None,
) -> Page[ApplicationOut]:
    rows = await repository.list_applications(reads, principal, page, borrower)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[ApplicationOut](items=[ApplicationOut.model_validate(r) for r in rows], next_cursor=cursor)
