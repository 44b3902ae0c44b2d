"""`POST /v1/exports` (202 and a job) and `GET /v1/exports/{id}/file`: the enterprise list's
export written by the job worker, for lists too large to wait for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse

from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, RegionOutOfScope, TooManyExports, responses
from services.common.jobs import JobOut
from services.common.readpool import CallerPrimaryReads
from services.common.streaming import DownloadResponse
from services.registry.errors import ExportExpired, ExportNotReady
from services.registry.exports import service
from services.registry.exports.schemas import ExportIn
from services.registry.jobs.links import view
from services.registry.scope import Manager

router = APIRouter(prefix="/v1", tags=["exports"])


@router.post(
    "/exports",
    status_code=202,
    summary="Export the filtered enterprise list in the background (CSV or XLSX)",
    responses={
        **responses(Forbidden, RegionOutOfScope, TooManyExports),
        202: {
            "description": "Accepted: the job writing the file. `Location` (relative to this URL) "
            "is its status resource; once it has succeeded, `links.result` is the file",
            "headers": {"Location": {"schema": {"type": "string"}, "description": "jobs/{id}"}},
        },
    },
)
async def create_export(
    body: ExportIn, session: DbSession, principal: Manager, request: Request, response: Response
) -> JobOut:
    """The same file as `GET /v1/enterprises/export` with the same filters and scope (the body
    holds the query's names: `format`, `region`, `industry`, `size`, `tier`, `title`, `scale`,
    `q`), written by the job worker for a list too large to wait for. Answers 202 with the job
    (`queued`); poll `Location` (`GET /v1/jobs/{id}`) until `succeeded`, then download
    `links.result` (`GET /v1/exports/{id}/file`). The file is kept `EAGLET_JOBS__EXPORT_RETENTION_H`
    (24 h). A caller may have `EAGLET_EXPORT__ASYNC_PER_CALLER` (2) exports queued or running;
    one more is a 429 `too_many_exports`."""
    job = await service.start(session, principal, body, request.app.state.settings)
    response.headers["Location"] = f"jobs/{job.id}"
    return view(job)


@router.get(
    "/exports/{job_id}/file",
    summary="The file of a finished export",
    response_class=StreamingResponse,
    responses={
        **responses(Forbidden, NotFound, ExportNotReady, ExportExpired),
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
async def export_file(
    job_id: Annotated[int, Path(ge=1, le=2**62)],
    principal: Manager,
    reads: CallerPrimaryReads,
    request: Request,
) -> DownloadResponse:
    """Only for the caller who started the export (anyone else: 404). 409 `export_not_ready`
    until its job has succeeded; 410 `export_expired` once the file's retention has passed."""
    settings = request.app.state.settings
    # On the primary: the file the job worker has just written, as its job's status said.
    _, file = await service.ready_file(reads, principal, job_id, settings)

    async def nothing() -> None:
        return None

    return DownloadResponse(
        service.file_body(reads, job_id, file["chunks"]),
        send_timeout_s=settings.export.send_timeout_s,
        on_close=nothing,
        media_type=file["content_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{file["filename"]}"',
            "Content-Length": str(file["size"]),
        },
    )
