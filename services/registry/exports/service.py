"""Asynchronous exports: started by a request (the job, in its unit of work), written by the
worker (tasks.py), served by any replica from the database (repository.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.context import request_id_var
from services.common.db import raw_connection
from services.common.errors import NotFound, TooManyExports
from services.common.jobs import Job, active_jobs, enqueue, visible_job
from services.common.scope import RegionScope
from services.common.settings import Settings
from services.registry.errors import ExportExpired, ExportNotReady
from services.registry.exports import repository as repo
from services.registry.exports import tasks
from services.registry.exports.schemas import ExportIn
from services.registry.jobs.links import job_href


async def start(session: AsyncSession, principal: Principal, body: ExportIn, settings: Settings) -> Job:
    """Queue an export of the caller's list (their region's enterprises, or `region` under it)."""
    RegionScope.of(principal).narrow(body.region, "/region")  # outside the caller's: 403 now
    conn = await raw_connection(session)
    limit = settings.export.async_per_caller
    if await active_jobs(conn, "registry", tasks.JOB_KIND, principal) >= limit:
        raise TooManyExports(running=limit, headers={"Retry-After": "30"})
    job_id = await enqueue(
        conn,
        "registry",
        kind=tasks.JOB_KIND,
        task_name=tasks.EXPORT,
        principal=principal,
        params={"query": body.model_dump(mode="json"), "request_id": request_id_var.get()},
    )
    job = await visible_job(conn, "registry", principal, job_id)
    assert job is not None
    return job


async def ready_file(reads: Any, principal: Principal, job_id: int, settings: Settings) -> tuple[Job, Any]:
    """The caller's finished export and its file: 404 for anyone else's (or none), 409 while it
    is not done, 410 once the file has expired."""
    job = await visible_job(reads, "registry", principal, job_id)
    if job is None or job.kind != tasks.JOB_KIND:
        raise NotFound(what="export", key=str(job_id))
    if job.status != "succeeded":
        raise ExportNotReady(job_id=job_id, status=job.status, href=job_href(job_id))
    file = await repo.file_of(reads, job_id)
    if file is None:
        raise ExportExpired(job_id=job_id, hours=settings.jobs.export_retention_h)
    return job, file


async def file_body(reads: Any, job_id: int, chunks: int) -> AsyncIterator[bytes]:
    """The file's bytes, one stored chunk per round trip (none held between them)."""
    for seq in range(chunks):
        data = await repo.chunk(reads, job_id, seq)
        if data is None:  # removed meanwhile (retention): the body ends short of its length
            return
        yield data
