"""Loans: bank batch ingest, scoped lists and reads."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import ExportsBusy, Forbidden, InvalidCursor, NotFound, TooManyExports, responses
from services.common.export import FILE_DOWNLOAD_RESPONSES, FormatQuery, download
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.common.readpool import CallerReads
from services.common.streaming import DownloadResponse
from services.common.types import CreditCode
from services.finance.errors import NoInstitution
from services.finance.exports import LOAN_COLUMNS, LOANS
from services.finance.fields import CodeFilter, Ref
from services.finance.loans import repository, service
from services.finance.loans.schemas import LoanBatchRequest, LoanFilters, LoanOut, LoanStatus, Product

router = APIRouter(tags=["loans"])
RefPath = Annotated[Ref, Path()]


@router.post(
    "/v1/loans/batch",
    summary="Post up to 5,000 loans (upsert by the caller's institution + loan_ref)",
    description=(
        "Each record is checked against the rule set (`GET /v1/rules`) and reported as "
        "`created | updated | unchanged | rejected` with rule id, severity and pointer. Valid records "
        "are committed together; with `atomic=true` nothing is committed if any record is rejected "
        "(`committed: false`, valid records report `unchanged`). The lender is the caller's institution "
        "code, never a field. The inclusive flag is computed when the loan is stored. Send "
        "`Idempotency-Key` to make retries safe."
    ),
    response_model=BatchResponse,
    dependencies=[require_kind("bank")],
    responses=responses(Forbidden, NoInstitution),
)
async def post_loans_batch(
    body: LoanBatchRequest, session: DbSession, principal: CurrentPrincipal, atomic: AtomicParam = False
) -> Response:
    return json_data_response(await service.ingest(session, principal, body.records, atomic))


async def loan_filters(
    borrower: Annotated[CreditCode | None, Query(description="Borrower credit code")] = None,
    lender: Annotated[CodeFilter | None, Query(description="Lender institution code")] = None,
    issued_from: Annotated[date | None, Query(description="Issued on or after this date")] = None,
    issued_to: Annotated[date | None, Query(description="Issued on or before this date")] = None,
    status: Annotated[LoanStatus | None, Query()] = None,
    product: Annotated[Product | None, Query()] = None,
    inclusive: Annotated[bool | None, Query(description="Only (non-)inclusive loans")] = None,
    unmatched: Annotated[
        bool | None, Query(description="Only loans whose borrower the registry did not know")
    ] = None,
) -> LoanFilters:
    """The list's filters (the list and its export take the same)."""
    return LoanFilters(borrower, lender, issued_from, issued_to, status, product, inclusive, unmatched)


Filters = Annotated[LoanFilters, Depends(loan_filters)]


@router.get(
    "/v1/loans",
    summary="List loans in the caller's scope",
    description=(
        "Banks see their own loans, officials loans of borrowers in their region (registry region, or "
        "the credit code's area digits when unmatched), admin all. Ordered by storage order; keyset "
        "pagination."
    ),
    dependencies=[require_kind("bank", "official", "admin")],
    responses=responses(InvalidCursor, Forbidden),
)
async def list_loans(
    reads: CallerReads, principal: CurrentPrincipal, page: Pagination, filters: Filters
) -> Page[LoanOut]:
    rows = await repository.list_loans(reads, principal, page, filters)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[LoanOut](items=[LoanOut.of(r) for r in rows], next_cursor=cursor)


@router.get(
    "/v1/loans/export",
    summary="Export the filtered loan list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    dependencies=[require_kind("bank", "official", "admin")],
    responses={**responses(Forbidden, TooManyExports, ExportsBusy), **FILE_DOWNLOAD_RESPONSES},
)
async def export_loans(
    request: Request,
    principal: CurrentPrincipal,
    reads: CallerReads,
    filters: Filters,
    fmt: FormatQuery = "csv",
) -> DownloadResponse:
    """Every loan of the list with the same filters and scope (a bank its own, an official those of
    borrowers in their region, admin all), in the list's order, streamed. Sheet 贷款明细; money and
    rates are numbers, dates dates. A caller runs at most `EAGLET_EXPORT__PER_CALLER` exports at
    once (one more: 429 `too_many_exports`); when every export connection stays busy for
    `EAGLET_EXPORT__WAIT_S`, 429 `exports_busy`. A bank's loan whose ref is `export` is read at
    `GET /v1/lenders/{lender}/loans/export`."""
    statement = repository.export_statement(principal, filters, LOAN_COLUMNS)
    return await download(reads, request.app.state.settings.export, LOANS, fmt, statement)


@router.get(
    "/v1/loans/{loan_ref}",
    summary="One of the calling bank's loans",
    dependencies=[require_kind("bank")],
    responses=responses(Forbidden, NotFound),
)
async def get_own_loan(loan_ref: RefPath, session: DbSession, principal: CurrentPrincipal) -> LoanOut:
    row = await repository.get(session, principal, principal.org or "", loan_ref)
    if row is None:
        raise NotFound(what="loan", key=loan_ref)
    return LoanOut.of(row)


@router.get(
    "/v1/lenders/{lender}/loans/{loan_ref}",
    summary="A loan by lender and reference (officials in region, admin; a bank for its own)",
    dependencies=[require_kind("bank", "official", "admin")],
    responses=responses(Forbidden, NotFound),
)
async def get_lender_loan(
    lender: RefPath, loan_ref: RefPath, session: DbSession, principal: CurrentPrincipal
) -> LoanOut:
    row = await repository.get(session, principal, lender, loan_ref)
    if row is None:
        raise NotFound(what="loan", key=f"{lender}/{loan_ref}")
    return LoanOut.of(row)
