"""Guarantees: guarantor batch ingest and scoped list."""

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
from services.finance.exports import GUARANTEES, columns_of
from services.finance.guarantees import repository, service
from services.finance.guarantees.schemas import GuaranteeBatchRequest, GuaranteeOut

router = APIRouter(tags=["guarantees"])


@router.post(
    "/v1/guarantees/batch",
    summary="Post up to 5,000 guarantees (upsert by the calling guarantor + guarantee_ref)",
    description="Same batch semantics as loans. The guarantor is the caller's institution code.",
    response_model=BatchResponse,
    dependencies=[require_kind("guarantor")],
    responses=responses(Forbidden, NoInstitution),
)
async def post_guarantees_batch(
    body: GuaranteeBatchRequest, session: DbSession, principal: CurrentPrincipal, atomic: AtomicParam = False
) -> Response:
    return json_data_response(await service.ingest(session, principal, body.records, atomic))


@router.get(
    "/v1/guarantees",
    summary="List guarantees in the caller's scope",
    description=(
        "Guarantors see their own guarantees, banks the guarantees naming them as lender, officials "
        "guarantees of borrowers in their region, admin all."
    ),
    dependencies=[require_kind("guarantor", "bank", "official", "admin")],
    responses=responses(InvalidCursor, Forbidden),
)
async def list_guarantees(
    reads: CallerReads,
    principal: CurrentPrincipal,
    page: Pagination,
    borrower: Annotated[CreditCode | None, Query()] = None,
) -> Page[GuaranteeOut]:
    rows = await repository.list_guarantees(reads, principal, page, borrower)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[GuaranteeOut](items=[GuaranteeOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/v1/guarantees/export",
    summary="Export the guarantee list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    dependencies=[require_kind("guarantor", "bank", "official", "admin")],
    responses={**responses(Forbidden, TooManyExports, ExportsBusy), **FILE_DOWNLOAD_RESPONSES},
)
async def export_guarantees(
    request: Request,
    principal: CurrentPrincipal,
    reads: CallerReads,
    borrower: Annotated[CreditCode | None, Query()] = None,
    fmt: FormatQuery = "csv",
) -> DownloadResponse:
    """Every guarantee of the list with the same filter and scope (a guarantor its own, a bank those naming it as lender, an official those of borrowers in their region, admin all), in the list's order,
    streamed; sheet 担保明细. The export limits of `GET /v1/loans/export` apply."""
    statement = repository.export_statement(principal, borrower, columns_of(GUARANTEES))
    return await download(reads, request.app.state.settings.export, GUARANTEES, fmt, statement)
