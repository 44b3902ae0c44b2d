"""HTTP for enterprises: create, read, change, list/search, batch, export."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from services.common import conditional
from services.common.batch import AtomicParam, BatchResponse, RuleSetOut
from services.common.conditional import IfMatch, IfNoneMatch
from services.common.db import DbSession
from services.common.errors import (
    ExportsBusy,
    Forbidden,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    QueryTooBroad,
    RegionOutOfScope,
    Required,
    TooManyExports,
    responses,
)
from services.common.export import FILE_DOWNLOAD_RESPONSES, download
from services.common.http import json_data_response
from services.common.pagination import (
    Page,
)
from services.common.query import QueryModel, query_docs
from services.common.readpool import CallerPrimaryReads, CallerReads
from services.common.streaming import DownloadResponse
from services.registry.enterprises import repository, schemas, service
from services.registry.enterprises.export import TABLE
from services.registry.enterprises.schemas import (
    EnterpriseBatchRequest,
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePatch,
    ExportQuery,
    ListQuery,
)
from services.registry.errors import INVALID_CREDIT_CODE, EnterpriseExists
from services.registry.scope import DirectoryReader, Manager, PathCreditCode

router = APIRouter(prefix="/v1", tags=["enterprises"])


@router.post(
    "/enterprises",
    status_code=201,
    summary="Register an enterprise",
    responses=responses(Forbidden, RegionOutOfScope, EnterpriseExists),
)
async def create_enterprise(body: EnterpriseCreate, session: DbSession, principal: Manager) -> EnterpriseOut:
    """Officials may register enterprises under their own region only (403 otherwise). A credit code
    already registered is a 409 problem."""
    return await service.create(session, principal, body)


@router.get(
    "/enterprises",
    summary="List and search enterprises",
    response_model=Page[EnterpriseOut],
    responses=responses(InvalidCursor, Forbidden, RegionOutOfScope, QueryTooBroad),
    openapi_extra=query_docs(ListQuery),
)
async def list_enterprises(
    principal: Manager, reads: CallerReads, query: ListQuery = QueryModel(ListQuery)
) -> Response:
    """Keyset-paginated, ordered by credit code (or by match quality, then credit code, with `q`).
    Officials see only their region; a `region` outside it is a 403 problem. A statement running
    past the read timeout (`EAGLET_DB__READ_STATEMENT_TIMEOUT_MS`) is cancelled: 422
    `query_too_broad`."""
    # The same two calls as the fast route's (fast_path.py), which answers the plain case.
    rows, cursor = await repository.list_page(reads, principal, query, query.page(principal))
    return Response(schemas.page_json(rows, cursor), media_type="application/json")


@router.get(
    "/enterprises/export",
    summary="Export the filtered list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    openapi_extra=query_docs(ExportQuery),
    responses={
        **responses(Forbidden, RegionOutOfScope, QueryTooBroad, ExportsBusy, TooManyExports),
        **FILE_DOWNLOAD_RESPONSES,
    },
)
async def export_enterprises(
    request: Request, principal: Manager, reads: CallerReads, query: ExportQuery = QueryModel(ExportQuery)
) -> DownloadResponse:
    """Same filters and scope as the list; every matching row, ordered by credit code.

    Exports stream from their own connections, never the list's: a caller runs at most
    `EAGLET_EXPORT__PER_CALLER` at once (one more: 429 `too_many_exports` with Retry-After); when
    every export connection stays busy for `EAGLET_EXPORT__WAIT_S`, 429 `exports_busy`. A client
    that takes no data for `EAGLET_EXPORT__SEND_TIMEOUT_S` is dropped (a truncated body)."""
    statement = await repository.export_plan(reads, principal, query)
    return await download(reads, request.app.state.settings.export, TABLE, query.format, statement)


@router.post(
    "/enterprises/batch",
    summary="Register or update up to 5,000 enterprises",
    response_model=BatchResponse,
    responses=responses(Forbidden),
)
async def batch_enterprises(
    body: EnterpriseBatchRequest, session: DbSession, principal: Manager, atomic: AtomicParam = False
) -> Response:
    """Upsert by credit code: per-record `created | updated | unchanged | rejected` with rule ids
    (see `GET /v1/rules`). Valid records are committed together; `?atomic=true` commits nothing if
    any record is rejected."""
    return json_data_response(await service.batch(session, principal, body.records, atomic))


@router.get("/rules", summary="Validation rules for posted enterprises", responses=responses(Forbidden))
async def list_rules(principal: DirectoryReader) -> RuleSetOut:
    return service.ENTERPRISE_RULES.describe()


@router.get(
    "/enterprises/{credit_code}",
    summary="One enterprise (directory record for banks, guarantors and certifiers)",
    response_model=EnterpriseOut,
    responses=responses(Forbidden, RegionOutOfScope, NotFound, QueryTooBroad, *INVALID_CREDIT_CODE),
)
async def get_enterprise(
    credit_code: PathCreditCode,
    principal: DirectoryReader,
    reads: CallerPrimaryReads,  # read-your-own-write: the record right after a PATCH
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Current size class, scale status, active titles and pool tier included. Outside the caller's
    region: 404. With `ETag`; `If-None-Match` with it: 304 while nothing changed."""
    row = await service.detail(reads, principal, credit_code)
    return conditional.json_answer(schemas.detail_json(row, principal), if_none_match)


@router.patch(
    "/enterprises/{credit_code}",
    summary="Change an enterprise's registered facts",
    response_model=EnterpriseOut,
    responses=responses(
        Forbidden, RegionOutOfScope, NotFound, Required, PreconditionFailed, *INVALID_CREDIT_CODE
    ),
)
async def patch_enterprise(
    credit_code: PathCreditCode,
    body: EnterprisePatch,
    session: DbSession,
    principal: Manager,
    if_match: IfMatch = None,
) -> Response:
    """With `If-Match` (the detail's `ETag`): 412 `precondition_failed` when the record changed
    since, nothing written. The answer is the new detail record with its `ETag`."""
    return conditional.tagged_json(await service.patch(session, principal, credit_code, body, if_match))
