"""`GET /v1/progress`: the programme's progress bulletin, as JSON or a spreadsheet."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import StringConstraints

from gateway.deps import CurrentCaller
from gateway.errors import ADMISSION, NoTargets, TrendSpan
from gateway.progress import bulletins
from gateway.progress.schemas import BulletinIn, BulletinList, BulletinOut, ProgressReport, Trend, TrendPoint
from gateway.progress.service import build_report, to_xlsx
from services.common.context import request_id_var
from services.common.db import DbSession
from services.common.errors import NotFound, PrincipalInvalid, RegionOutOfScope, responses
from services.common.targets import REPORTED
from services.common.types import RegionCode, text

router = APIRouter(tags=["aggregates"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/v1/progress",
    response_model=ProgressReport,
    responses={
        **responses(*ADMISSION, PrincipalInvalid, RegionOutOfScope, NoTargets),
        200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
    },
    summary="Programme progress bulletin (定期通报进展): targets, actuals, status",
)
async def progress(
    caller: CurrentCaller,
    session: DbSession,
    request: Request,
    year: Annotated[int, Query(ge=2000, le=2100)] = REPORTED[1],
    region: Annotated[
        RegionCode | None, Query(description="Default: the official's region, else 330000")
    ] = None,
    programme: Annotated[text(StringConstraints(min_length=1, max_length=64)), Query()] = REPORTED[0],
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
):
    """Every target of the programme for the year and region, the actual from its owner service's
    `GET /v1/stats` (`targets` object), the completion ratio and a status. When a service does not
    answer within the aggregate deadline (3 s by default) its rows are `not_tracked` and the report
    is `partial`; a service whose read scope the credential lacks is not asked (`withheld`)."""
    p = caller.principal
    region = region or (p.region if p.kind == "official" and p.region else "330000")
    report = await build_report(
        session, request.app.state.gateway, p, programme, year, region, request_id_var.get()
    )
    if format == "xlsx":
        name = f"progress-{programme}-{year}-{region}.xlsx"
        return Response(
            await asyncio.to_thread(to_xlsx, report),  # openpyxl's work stays off the event loop
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


@router.post(
    "/v1/progress/bulletins",
    status_code=201,
    response_model=BulletinOut,
    responses=responses(
        *ADMISSION, PrincipalInvalid, RegionOutOfScope, NoTargets, bulletins.BulletinIncomplete
    ),
    summary="Publish the bulletin of a year and region: a numbered, immutable snapshot",
)
async def publish_bulletin(caller: CurrentCaller, session: DbSession, request: Request, body: BulletinIn):
    """Freezes the bulletin as `GET /v1/progress` answers it now (number `2022-330000-03`,
    `as_of`, `content_sha256`); it answers the same numbers forever after. An official publishes
    for regions in their scope only (403 `region_out_of_scope`); an incomplete bulletin is 409."""
    return await bulletins.publish(
        session, request.app.state.gateway, caller.principal, body.programme, body.year, body.region,
        request_id_var.get(),
    )  # fmt: skip


@router.get(
    "/v1/progress/bulletins",
    response_model=BulletinList,
    responses=responses(*ADMISSION, PrincipalInvalid, RegionOutOfScope),
    summary="The published bulletins of a year and region, in order",
)
async def list_bulletins(
    caller: CurrentCaller,
    session: DbSession,
    year: Annotated[int, Query(ge=2000, le=2100)],
    region: Annotated[RegionCode, Query()],
):
    return BulletinList(items=await bulletins.list_(session, caller.principal, year, region))


@router.get(
    "/v1/progress/bulletins/{bulletin_id}",
    response_model=BulletinOut,
    responses={
        **responses(*ADMISSION, PrincipalInvalid, NotFound),
        200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
    },
    summary="One published bulletin, as JSON or a spreadsheet (Chinese throughout)",
)
async def get_bulletin(
    caller: CurrentCaller,
    session: DbSession,
    bulletin_id: Annotated[int, Path(ge=1, le=2**62)],
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
):
    """Another region's bulletin is a 404."""
    b = await bulletins.get(session, caller.principal, bulletin_id)
    if format == "xlsx":
        return Response(
            await asyncio.to_thread(to_xlsx, b.bulletin, b.number, b.content_sha256),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="bulletin-{b.number}.xlsx"'},
        )
    return b


@router.get(
    "/v1/progress/trend",
    response_model=Trend,
    responses=responses(*ADMISSION, PrincipalInvalid, RegionOutOfScope, NoTargets, TrendSpan),
    summary="One indicator of a region over the years: target, actual and status per year",
)
async def trend(
    caller: CurrentCaller,
    session: DbSession,
    request: Request,
    key: Annotated[text(StringConstraints(min_length=1, max_length=64)), Query()],
    region: Annotated[RegionCode, Query()],
    from_year: Annotated[int, Query(ge=2000, le=2100)],
    to_year: Annotated[int, Query(ge=2000, le=2100)],
    programme: Annotated[text(StringConstraints(min_length=1, max_length=64)), Query()] = REPORTED[0],
):
    """At most 10 years; each year as `GET /v1/progress` answers it for that year (the region's own
    target that year, the owner service's figure for that year)."""
    if not 0 <= to_year - from_year < 10:
        raise TrendSpan()
    points, name = [], None
    for year in range(from_year, to_year + 1):
        report = await build_report(
            session, request.app.state.gateway, caller.principal, programme, year, region,
            request_id_var.get(), keys={key},
        )  # fmt: skip
        it = report.items[0]
        name = it.name_zh
        points.append(
            TrendPoint(
                year=year,
                target=it.target,
                actual=it.actual,
                unit=it.unit,
                status=it.status,
                reason=it.reason,
            )
        )
    return Trend(key=key, name_zh=name, programme=programme, region=region, points=points)
