"""Periodic jobs that belong to no domain: stalled jobs run again, expired Idempotency-Keys
purged, retention, stalled file submissions expired (services/common/submissions/sweep.py). Their schedules are settings (`EAGLET_JOBS__*_CRON`, services/jobs/app.py).

Stalled jobs: a worker writes its heartbeat every `EAGLET_JOBS__HEARTBEAT_S`; a job still
`doing` whose worker has been silent for `EAGLET_JOBS__STALLED_AFTER_S` (killed, out of memory,
its host gone) is put back in the queue with procrastinate's `retry_job`, and another worker
runs it. Its status row takes the new run (services/common/jobs.py), so a run of the dead
worker that somehow lives on writes nothing more; a job whose worker dies on every run allowed
by its task's retry strategy fails `job_worker_died`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from procrastinate import Blueprint, JobContext

from services.common.idempotency import expired_keys_sql
from services.common.jobs import resources
from services.common.models import SCHEMAS
from services.common.submissions.sweep import expire_stalled
from services.jobs.retention import RETENTION

NAMESPACE = "upkeep"
blueprint = Blueprint()
log = logging.getLogger("eaglet.jobs.upkeep")


@blueprint.task(name="stalled", pass_context=True)
async def retry_stalled(context: JobContext, timestamp: int) -> int:
    """Put the jobs of workers whose heartbeat stopped back in the queue; how many."""
    settings = resources(context).settings
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.jobs.stalled_after_s)
    retried = 0
    for job in stalled:
        try:
            await manager.retry_job(job)
        except Exception:  # another worker's sweep took it first
            log.info("stalled job %s: already taken care of", job.id, exc_info=True)
            continue
        retried += 1
        log.warning("job %s (%s): its worker stopped; queued again", job.id, job.task_name)
    return retried


@blueprint.task(name="idempotency_keys", pass_context=True)
async def purge_idempotency_keys(context: JobContext, timestamp: int) -> int:
    """Remove every schema's Idempotency-Keys older than `EAGLET_IDEMPOTENCY_RETENTION_H`."""
    res = resources(context)
    removed = 0
    async with res.db.acquire() as conn:
        for schema in SCHEMAS:
            status = await conn.execute(
                expired_keys_sql(f"{schema}.idempotency_keys", "$1"), res.settings.idempotency_retention_h
            )
            removed += int(status.split()[-1])
    log.info("purged %d expired Idempotency-Keys", removed)
    return removed


@blueprint.task(name="retention", pass_context=True)
async def retention(context: JobContext, timestamp: int) -> dict[str, int]:
    """Remove what is kept only for the feed horizon (every step of `RETENTION`), and the queue's
    own jobs that ended before it."""
    res = resources(context)
    days = res.settings.events.retention_days
    horizon = datetime.now(UTC) - timedelta(days=days)
    removed: dict[str, int] = {}
    async with res.db.acquire() as conn:
        for name, step in RETENTION:
            removed[name] = await step(conn, res.settings, horizon)
    await context.app.job_manager.delete_old_jobs(
        nb_hours=days * 24, include_failed=True, include_cancelled=True, include_aborted=True
    )
    log.info("retention before %s: %s", horizon.isoformat(), removed)
    return removed


@blueprint.task(name="submissions", pass_context=True)
async def expire_submissions(context: JobContext, timestamp: int) -> dict[str, int]:
    """Mark the file submissions whose worker stopped, or that none took, `expired`."""
    res = resources(context)
    async with res.db.acquire() as conn:
        expired = await expire_stalled(conn, res.settings)
    if any(expired.values()):
        log.warning("expired stalled submissions: %s", expired)
    return expired
