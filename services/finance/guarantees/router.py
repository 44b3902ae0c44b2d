"""Guarantees: guarantor batch ingest and scoped list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import AtomicParam, BatchResponse
from services.common.db import DbSession
from services.common.errors import Forbidden, InvalidCursor, responses
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination, page_of
from services.common.types import CreditCode
from services.finance.errors import NoInstitution
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
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    borrower: Annotated[CreditCode | None, Query()] = None,
) -> Page[GuaranteeOut]:
    rows = await repository.list_guarantees(session, principal, page, borrower)
    rows, cursor = page_of(rows, page, lambda r: (r.id,))
    return Page[GuaranteeOut](items=[GuaranteeOut.model_validate(r) for r in rows], next_cursor=cursor)
