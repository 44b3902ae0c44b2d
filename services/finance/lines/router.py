"""Credit lines: bank batch ingest and scoped list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import ExportsBusy, Forbidden, InvalidCursor, TooManyExports, responses
from services.common.export import FILE_DOWNLOAD_RESPONSES, FormatQuery, download
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.common.readpool import CallerReads
from services.common.streaming import DownloadResponse
from services.common.types import CreditCode
from services.finance.errors import NoInstitution
from services.finance.exports import CREDIT_LINES, columns_of
from services.finance.lines import repository, service
from services.finance.lines.schemas import CreditLineBatchRequest, CreditLineOut

router = APIRouter(tags=["credit lines"])


@router.post(
    "/v1/credit-lines/batch",
    summary="Post up to 5,000 credit lines (upsert by the caller's institution + line_ref)",
    description=(
        "Same batch semantics as loans. When a line is created or changed, the inclusive flag of the "
        "borrower's loans at this lender is re-derived in the same transaction (logged as "
        "`reclassified`)."
    ),
    response_model=BatchResponse,
    dependencies=[require_kind("bank")],
    responses=responses(Forbidden, NoInstitution),
)
async def post_credit_lines_batch(
    body: CreditLineBatchRequest, session: DbSession, principal: CurrentPrincipal, atomic: AtomicParam = False
) -> Response:
    return json_data_response(await service.ingest(session, principal, body.records, atomic))


@router.get(
    "/v1/credit-lines",
    summary="List credit lines in the caller's scope",
    dependencies=[require_kind("bank", "official", "admin")],
    responses=responses(InvalidCursor, Forbidden),
)
async def list_credit_lines(
    reads: CallerReads,
    principal: CurrentPrincipal,
    page: Pagination,
    borrower: Annotated[CreditCode | None, Query()] = None,
) -> Page[CreditLineOut]:
    rows = await repository.list_lines(reads, principal, page, borrower)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[CreditLineOut](items=[CreditLineOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/v1/credit-lines/export",
    summary="Export the credit line list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    dependencies=[require_kind("bank", "official", "admin")],
    responses={**responses(Forbidden, TooManyExports, ExportsBusy), **FILE_DOWNLOAD_RESPONSES},
)
async def export_lines(
    request: Request,
    principal: CurrentPrincipal,
    reads: CallerReads,
    borrower: Annotated[CreditCode | None, Query()] = None,
    fmt: FormatQuery = "csv",
) -> DownloadResponse:
    """Every credit line of the list with the same filter and scope (a bank its own lines, an official those of borrowers in their region, admin all), in the list's order,
    streamed; sheet 授信明细. The export limits of `GET /v1/loans/export` apply."""
    statement = repository.export_statement(principal, borrower, columns_of(CREDIT_LINES))
    return await download(reads, request.app.state.settings.export, CREDIT_LINES, fmt, statement)
