"""Loan-book reports (各项贷款): bank batch ingest and the caller's own list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, responses
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.finance.book import repository, service
from services.finance.book.schemas import LoanBookReportBatchRequest, LoanBookReportOut
from services.finance.errors import NoInstitution
from services.finance.fields import CodeFilter

router = APIRouter(tags=["loan book reports"])


@router.post(
    "/v1/loan-book-reports/batch",
    summary="Post up to 5,000 whole-loan-book reports (upsert by the caller's institution + period_end)",
    description=(
        "The bank's whole loan book (各项贷款) at period ends: `period_end`, `all_loans_balance`, "
        "`all_loans_borrowers`. Same batch semantics as loans; “两增” in `GET /v1/stats` compares "
        "the inclusive loans' growth with this book's growth between the two dates it reports."
    ),
    response_model=BatchResponse,
    dependencies=[require_kind("bank")],
    responses=responses(Forbidden, NoInstitution),
)
async def post_loan_book_reports_batch(
    body: LoanBookReportBatchRequest,
    session: DbSession,
    principal: CurrentPrincipal,
    atomic: AtomicParam = False,
) -> Response:
    return json_data_response(await service.ingest(session, principal, body.records, atomic))


@router.get(
    "/v1/loan-book-reports",
    summary="List loan-book reports: a bank its own, admin every bank's",
    dependencies=[require_kind("bank", "admin")],
    responses=responses(InvalidCursor, Forbidden),
)
async def list_loan_book_reports(
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    lender: Annotated[CodeFilter | None, Query(description="admin: one bank's reports")] = None,
) -> Page[LoanBookReportOut]:
    rows = await repository.list_reports(session, principal, page, lender)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[LoanBookReportOut](
        items=[LoanBookReportOut.model_validate(r) for r in rows], next_cursor=cursor
    )
