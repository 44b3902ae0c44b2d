"""HTTP for enterprises: create, read, change, list/search, batch, export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.common.batch import AtomicParam, BatchRequest, BatchResponse, RuleSetOut
from services.common.credit_code import check_credit_code
from services.common.db import DbSession
from services.common.errors import responses
from services.common.pagination import Page, Pagination
from services.registry.enterprises import repository as repo
from services.registry.enterprises import service
from services.registry.enterprises.export import csv_stream, xlsx_stream
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePatch,
    ScaleStatus,
    SizeClass,
    Tier,
)
from services.registry.http import json_response
from services.registry.scope import DirectoryReader, Manager, PathCreditCode, effective_region

router = APIRouter(prefix="/v1", tags=["enterprises"])

RegionQ = Annotated[
    str | None,
    Query(pattern=r"^\d{2,6}$", description="Region code prefix: 3301 = Hangzhou, 330106 = 西湖区"),
]
IndustryQ = Annotated[
    str | None,
    Query(
        pattern=r"^([A-Ta-t]|\d{2,4})$",
        description="Section letter (C), division (34), group (344) or class (3441) of GB/T 4754-2017",
    ),
]
TitleQ = Annotated[
    str | None, Query(pattern=r"^[a-z_]{2,40}$", description="An active title kind, e.g. tech_sme")
]
QQ = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Name search (prefix, then all character pairs present, then fuzzy: most pairs "
        "shared) ranked best first; or an exact credit code",
    ),
]


@dataclass
class Filters:
    region: str | None = None
    industry: str | None = None
    size: str | None = None
    tier: str | None = None
    title: str | None = None
    scale: str | None = None
    q: str | None = None


async def filter_params(  # async: no thread-pool hop per request
    region: RegionQ = None,
    industry: IndustryQ = None,
    size: Annotated[SizeClass | None, Query()] = None,
    tier: Annotated[Tier | None, Query()] = None,
    title: TitleQ = None,
    scale: Annotated[ScaleStatus | None, Query()] = None,
    q: QQ = None,
) -> Filters:
    return Filters(region, industry, size, tier, title, scale, q)


FiltersQ = Annotated[Filters, Depends(filter_params)]


def _statement(principal, f: Filters, columns=None, fuzzy: bool = False):
    effective_region(principal, None)
    stmt = repo.filtered(
        principal,
        region=f.region,
        industry=f.industry,
        size=f.size,
        tier=f.tier,
        title=f.title,
        scale=f.scale,
        columns=columns,
    )
    rank = None
    if f.q and f.q.strip():
        cc = check_credit_code(f.q)
        stmt, rank = repo.with_search(stmt, f.q, cc.normalized if cc.valid else None, fuzzy)
    return stmt, rank


async def _search_statement(session, principal, f: Filters, columns):
    """Strict matches (prefix, every character pair present) when there are any; otherwise the
    fuzzy ones (most pairs shared). Deterministic, so cursors stay valid across pages."""
    stmt, rank = _statement(principal, f, columns)
    if f.q and f.q.strip() and not check_credit_code(f.q).valid and not await repo.any_row(session, stmt):
        stmt, rank = _statement(principal, f, columns, fuzzy=True)
    return stmt, rank


async def _list_page(session, principal, f: Filters, page, columns):
    """The list page; for a name search, the strict page when strict matches exist, else the
    fuzzy one. A non-empty strict page proves strict matches exist, so the existence check runs
    only when it came back empty on a later page."""
    stmt, rank = _statement(principal, f, columns)
    rows, cursor = await repo.list_page(session, stmt, page, rank)
    if rows or not (f.q and f.q.strip()) or check_credit_code(f.q).valid:
        return rows, cursor
    if page.cursor and await repo.any_row(session, stmt):
        return rows, cursor
    stmt, rank = _statement(principal, f, columns, fuzzy=True)
    return await repo.list_page(session, stmt, page, rank)


LIST_COLUMNS = [c for c in repo.E.c if c.name != "name_bigrams"]


@router.post(
    "/enterprises",
    status_code=201,
    summary="Register an enterprise",
    responses=responses(401, 403, 409, 422),
)
async def create_enterprise(body: EnterpriseCreate, session: DbSession, principal: Manager) -> EnterpriseOut:
    """Officials may register enterprises under their own region only (403 otherwise). A credit code
    already registered is a 409 problem."""
    return await service.create(session, principal, body)


@router.get(
    "/enterprises",
    summary="List and search enterprises",
    response_model=Page[EnterpriseOut],
    responses=responses(400, 401, 403, 422),
)
async def list_enterprises(
    session: DbSession, principal: Manager, page: Pagination, filters: FiltersQ
) -> Response:
    """Keyset-paginated, ordered by credit code (or by match quality, then credit code, with `q`).
    Officials see only their region."""
    rows, cursor = await _list_page(session, principal, filters, page, LIST_COLUMNS)
    return json_response(
        Page[EnterpriseOut](
            items=[service.to_out({k: v for k, v in r.items() if k != "match_rank"}) for r in rows],
            next_cursor=cursor,
        )
    )


@router.get(
    "/enterprises/export",
    summary="Export the filtered list as CSV or XLSX (Chinese headers)",
    response_class=StreamingResponse,
    responses={
        **responses(401, 403, 422),
        200: {
            "description": "The file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        },
    },
)
async def export_enterprises(
    request: Request,
    session: DbSession,
    principal: Manager,
    filters: FiltersQ,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8 with BOM) or xlsx")] = "csv",
) -> StreamingResponse:
    """Same filters and scope as the list; every matching row, ordered by credit code."""
    stmt, _ = await _search_statement(session, principal, filters, LIST_COLUMNS)
    engine = request.app.state.engine

    async def rows():
        async with engine.connect() as conn:
            async for row in repo.stream_rows(conn, stmt):
                yield row

    if format == "xlsx":
        return StreamingResponse(
            xlsx_stream(rows()),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="enterprises.xlsx"'},
        )
    return StreamingResponse(
        csv_stream(rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="enterprises.csv"'},
    )


@router.post(
    "/enterprises/batch",
    summary="Register or update up to 5,000 enterprises",
    responses=responses(401, 403, 409, 422),
)
async def batch_enterprises(
    body: BatchRequest, session: DbSession, principal: Manager, atomic: AtomicParam = False
) -> BatchResponse:
    """Upsert by credit code: per-record `created | updated | unchanged | rejected` with rule ids
    (see `GET /v1/rules`). Valid records are committed together; `?atomic=true` commits nothing if
    any record is rejected."""
    return await service.batch(session, principal, body.records, atomic)


@router.get("/rules", summary="Validation rules for posted enterprises", responses=responses(401))
async def list_rules(principal: DirectoryReader) -> RuleSetOut:
    return service.ENTERPRISE_RULES.describe()


@router.get(
    "/enterprises/{credit_code}",
    summary="One enterprise (directory record for banks, guarantors and certifiers)",
    response_model=EnterpriseOut,
    responses=responses(401, 403, 404, 422),
)
async def get_enterprise(
    credit_code: PathCreditCode, session: DbSession, principal: DirectoryReader
) -> Response:
    """Current size class, scale status, active titles and pool tier included. Outside the caller's
    region: 404."""
    return json_response(await service.get(session, principal, credit_code))


@router.patch(
    "/enterprises/{credit_code}",
    summary="Change an enterprise's registered facts",
    responses=responses(401, 403, 404, 422),
)
async def patch_enterprise(
    credit_code: PathCreditCode,
    body: EnterprisePatch,
    session: DbSession,
    principal: Manager,
    response: Response,
) -> EnterpriseOut:
    return await service.patch(session, principal, credit_code, body)
