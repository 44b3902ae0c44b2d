"""Certification HTTP: the body's batch push, scoped lists, one certificate, its history, the rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.common.auth import CurrentPrincipal, Principal, require_kind
from services.common.batch import AtomicParam, BatchResponse, RuleSetOut
from services.common.conditional import IfNoneMatch, json_answer, representation
from services.common.db import DbSession
from services.common.errors import ExportsBusy, Forbidden, InvalidCursor, NotFound, TooManyExports, responses
from services.common.export import FILE_DOWNLOAD_RESPONSES, FormatQuery, download
from services.common.http import json_data_response
from services.common.pagination import Page, Pagination
from services.common.readpool import CallerReads
from services.common.streaming import DownloadResponse
from services.common.types import CreditCode
from services.standards.catalogue.schemas import StandardCode
from services.standards.certifications import service
from services.standards.certifications.rules import RULES
from services.standards.certifications.schemas import (
    CertificateBatchRequest,
    CertificateFilters,
    CertificateNoParam,
    CertificateOut,
    CertifierParam,
    EffectiveStatus,
    HistoryEntry,
)
from services.standards.errors import AmbiguousCertificateNo

router = APIRouter(tags=["certifications"])
Reader = Annotated[Principal, require_kind("admin", "official", "certifier")]
CertificateNoPath = Annotated[CertificateNoParam, Path(description="The body's certificate number")]
CertifierQuery = Annotated[
    CertifierParam | None,
    Query(description="The certification body's code, when the number exists at several bodies"),
]


@router.post(
    "/v1/certifications/batch",
    summary="Push 品字标 certificate decisions (up to 5,000 records)",
    description=(
        "Upsert by (your body, certificate_no): each record is `created`, `updated`, `unchanged` or "
        "`rejected` with rule findings (GET /v1/rules). Records are applied in order, so one batch may "
        "carry several decisions for one certificate (e.g. suspended, then valid again). Lifecycle: "
        "valid ↔ suspended; valid/suspended → revoked or cancelled, which are terminal; "
        "status_effective_on never moves backwards. Every accepted change is appended to the "
        "certificate's history with the pushed record. `?atomic=true` commits nothing if a record is "
        "rejected. Send `Idempotency-Key` to make a retry safe. Certification bodies only."
    ),
    response_model=BatchResponse,
    responses=responses(Forbidden),
)
async def push_certifications(
    body: CertificateBatchRequest,
    session: DbSession,
    principal: Annotated[Principal, require_kind("certifier")],
    atomic: AtomicParam = False,
) -> Response:
    return json_data_response(await service.push_batch(session, principal, body.records, atomic))


@router.get("/v1/rules", summary="The certification push rule set and its version")
async def list_rules(principal: CurrentPrincipal) -> RuleSetOut:
    return RULES.describe()


async def certificate_filters(
    holder: Annotated[CreditCode | None, Query(description="Holder's credit code")] = None,
    status: Annotated[EffectiveStatus | None, Query(description="Effective status")] = None,
    standard: Annotated[StandardCode | None, Query(description="Standard number")] = None,
    expiring_before: Annotated[date | None, Query(description="expires_on before this date")] = None,
    certifier: CertifierQuery = None,
) -> CertificateFilters:
    """The list's filters (the list and its export take the same)."""
    return CertificateFilters(holder, status, standard, expiring_before, certifier)


Filters = Annotated[CertificateFilters, Depends(certificate_filters)]


@router.get(
    "/v1/certifications",
    summary="List certificates in your scope",
    description=(
        "A body sees its own certificates, an official those whose holder is in their region (the "
        "registry's region, else the credit code's area code), admin all. Ordered by creation. "
        "`status` filters on the effective status (`expired` = valid or suspended and past expires_on, "
        "Asia/Shanghai); `expiring_before` keeps certificates with expires_on before that date."
    ),
    responses=responses(InvalidCursor, Forbidden),
)
async def list_certifications(
    reads: CallerReads, principal: Reader, page: Pagination, filters: Filters
) -> Page[CertificateOut]:
    items, cursor = await service.list_(reads, principal, page, filters)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/v1/certifications/export",
    summary="Export the certificate list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    responses={**responses(Forbidden, TooManyExports, ExportsBusy), **FILE_DOWNLOAD_RESPONSES},
)
async def export_certifications(
    request: Request, principal: Reader, reads: CallerReads, filters: Filters, fmt: FormatQuery = "csv"
) -> DownloadResponse:
    """Every certificate of the list with the same filters and scope (a body its own, an official
    those whose holder is in their region, admin all), in the list's order, streamed; sheet
    品字标认证证书, with the pushed and the effective status (as of today, Asia/Shanghai). A caller
    runs at most `EAGLET_EXPORT__PER_CALLER` exports at once (one more: 429 `too_many_exports`);
    when every export connection stays busy for `EAGLET_EXPORT__WAIT_S`, 429 `exports_busy`. (A
    certificate numbered `export` is found in the list and the public verification.)"""
    table, statement = service.export_statement(principal, filters)
    return await download(reads, request.app.state.settings.export, table, fmt, statement)


@router.get(
    "/v1/certifications/{certificate_no:path}/history",
    summary="Every accepted change of a certificate, oldest first (append-only)",
    responses=responses(InvalidCursor, Forbidden, NotFound, AmbiguousCertificateNo),
)
async def certification_history(
    certificate_no: CertificateNoPath,
    session: DbSession,
    principal: Reader,
    page: Pagination,
    certifier: CertifierQuery = None,
) -> Page[HistoryEntry]:
    items, cursor = await service.history(session, principal, certificate_no, certifier, page)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/v1/certifications/{certificate_no:path}",
    summary="One certificate in your scope",
    description="409 when the number exists at several bodies in your scope and no `certifier` is given. "
    "With `ETag`; `If-None-Match` with it: 304 while nothing changed.",
    response_model=CertificateOut,
    responses=responses(Forbidden, NotFound, AmbiguousCertificateNo),
)
async def get_certification(
    certificate_no: CertificateNoPath,
    session: DbSession,
    principal: Reader,
    certifier: CertifierQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    found = await service.get(session, principal, certificate_no, certifier)
    return json_answer(representation(found), if_none_match)
