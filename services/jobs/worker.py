"""`eaglet worker`: procrastinate's worker and every loop of `LOOPS`, until SIGTERM or SIGINT.

One process, one event loop: the worker fetches jobs (LISTEN/NOTIFY, polling as a fallback),
runs up to `EAGLET_JOBS__CONCURRENCY` at once, writes its heartbeat, and defers the periodic
jobs when they are due (procrastinate makes sure one worker defers each time, however many run).
CPU-heavy work (a screening's evaluation) goes to processes of its own, so the loop stays free
for heartbeats. It needs only the database URL: it is a deployable of its own.

Shutdown: on the signal, the loops are told to stop and the worker takes no new job; running
jobs get `EAGLET_JOBS__SHUTDOWN_GRACE_S` to finish, then they are aborted and queued again by
their retry strategy. A loop or the worker ending on its own stops the process (exit status 1).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg

from services.common.db import plain_url, statement_cache
from services.common.jobs import WorkerResources
from services.common.process import run_until_signalled
from services.common.settings import Settings
from services.jobs import health
from services.jobs import loops as registered
from services.jobs.app import app, queue_connector, schedule
from services.registry.pool import runner

log = logging.getLogger("eaglet.worker")


async def run(settings: Settings, stop: asyncio.Event, *, name: str = "eaglet-worker") -> None:
    """Run the worker and the loops until `stop` is set; raises if one of them ended first."""
    settings = settings.for_process("worker")  # its own role's URL (EAGLET_JOBS__DATABASE_URL), when set
    schedule(settings)
    db = await asyncpg.create_pool(
        plain_url(settings.database_url or ""),
        min_size=1,
        max_size=settings.jobs.task_pool_size,
        server_settings={
            "application_name": f"{name}-tasks",
            "statement_timeout": str(settings.db.statement_timeout_ms),
            "TimeZone": "UTC",
        },
        **statement_cache(settings),
    )
    try:
        with app.replace_connector(queue_connector(settings)):
            await _run_worker(settings, stop, name, db)
    finally:
        runner.shutdown_pools("background")
        with suppress(Exception):
            await db.close()


async def _run_worker(settings: Settings, stop: asyncio.Event, name: str, db: asyncpg.Pool) -> None:
    """procrastinate's worker (the App opened on its connector's own pool) and the loops."""
    jobs = settings.jobs
    failed: BaseException | str | None = None
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                name=name,
                concurrency=jobs.concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=jobs.heartbeat_s,
                stalled_worker_timeout=jobs.stalled_after_s,
                fetch_job_polling_interval=jobs.poll_s,
                abort_job_polling_interval=jobs.poll_s,
                shutdown_graceful_timeout=jobs.shutdown_grace_s,
                additional_context={"eaglet": WorkerResources(settings=settings, db=db)},
            ),
            name="procrastinate-worker",
        )
        loops = [
            asyncio.create_task(loop(settings, stop), name=loop.__qualname__) for loop in registered.LOOPS
        ]
        if jobs.health_port:
            probes = health.serve(settings, db, lambda: not worker.done(), stop)
            loops.append(asyncio.create_task(probes, name="health"))
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([worker, *loops, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:
            ended = next(iter(done))
            failed = ended.exception() or f"{ended.get_name()} ended on its own"
            log.error("%s ended before the worker was stopped; stopping", ended.get_name())
        stop.set()
        stopping.cancel()
        if not worker.done():
            worker.cancel()  # procrastinate's graceful stop: no new job, running ones get the grace
        results = await asyncio.gather(worker, *loops, return_exceptions=True)
        for task, result in zip([worker, *loops], results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s failed", task.get_name(), exc_info=result)
    if failed is not None:
        cause = failed if isinstance(failed, BaseException) else None
        raise RuntimeError(f"worker stopped: {failed}") from cause


def main(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT (the process's entry point)."""
    run_until_signalled(lambda stop: run(settings, stop))
