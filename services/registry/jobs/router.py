"""`GET /v1/jobs/{id}`: the status of a job the caller started (a background screening, an
asynchronous export). Any other caller's job is a 404, as one that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.common.auth import CurrentPrincipal
from services.common.db import DbSession, raw_connection
from services.common.errors import NotFound, responses
from services.common.jobs import JobOut, visible_job
from services.registry.jobs.links import view

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs/{job_id}", summary="The status of a job you started", responses=responses(NotFound))
async def get_job(
    job_id: Annotated[int, Path(ge=1, le=2**62)], session: DbSession, principal: CurrentPrincipal
) -> JobOut:
    """`status`: queued (waiting for a worker, also between retries) → running (`progress`
    growing) → succeeded (`links.result`: the outcome) or failed (`error`, a problem). A failed
    run is retried with backoff, so `attempts` may grow while the job is queued again. Jobs are
    kept `EAGLET_EVENTS__RETENTION_DAYS` (30) after they end. A job started by someone else — another
    official, another institution — is a 404."""
    job = await visible_job(await raw_connection(session), "registry", principal, job_id)
    if job is None:
        raise NotFound(what="job", key=str(job_id))
    return view(job)
