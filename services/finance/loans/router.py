"""Loans: bank batch ingest, scoped lists and reads."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, NotFound, responses
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.common.types import CreditCode
from services.finance.errors import NoInstitution
from services.finance.fields import CodeFilter, Ref
from services.finance.loans import repository, service
from services.finance.loans.schemas import LoanBatchRequest, LoanOut, LoanStatus, Product

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
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    borrower: Annotated[CreditCode | None, Query(description="Borrower credit code")] = None,
    lender: Annotated[CodeFilter | None, Query(description="Lender institution code")] = None,
    issued_from: Annotated[date | None, Query()] = None,
    issued_to: Annotated[date | None, Query()] = None,
    status: Annotated[LoanStatus | None, Query()] = None,
    product: Annotated[Product | None, Query()] = None,
    inclusive: Annotated[bool | None, Query(description="Only (non-)inclusive loans")] = None,
    unmatched: Annotated[
        bool | None, Query(description="Only loans whose borrower the registry did not know")
    ] = None,
) -> Page[LoanOut]:
    rows = await repository.list_loans(
        session,
        principal,
        page,
        borrower=borrower,
        lender=lender,
        issued_from=issued_from,
        issued_to=issued_to,
        status=status,
        product=product,
        inclusive=inclusive,
        unmatched=unmatched,
    )
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[LoanOut](items=[LoanOut.of(r) for r in rows], next_cursor=cursor)


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
