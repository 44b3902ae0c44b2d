"""`GET /v1/progress`: the programme's progress bulletin, as JSON or a spreadsheet."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import StringConstraints

from gateway.deps import CurrentCaller
from gateway.errors import ADMISSION, NoTargets
from gateway.progress.schemas import ProgressReport
from gateway.progress.service import build_report, to_xlsx
from services.common.context import request_id_var
from services.common.db import DbSession
from services.common.errors import PrincipalInvalid, RegionOutOfScope, responses
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
