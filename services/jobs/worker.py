"""`eaglet worker`: procrastinate's worker and every loop of `LOOPS`, until SIGTERM or SIGINT.

One process, one event loop: the worker fetches jobs (LISTEN/NOTIFY, polling as a fallback),
runs up to `EAGLET_JOBS__CONCURRENCY` at once, writes its heartbeat, and defers the periodic
jobs when they are due (procrastinate makes sure one worker defers each time, however many run).
CPU-heavy work (a screening's evaluation) goes to processes of its own, so the loop stays free
for heartbeats. It needs only the database URL: it is a deployable of its own.

The database going away (a restart, a failover) does not stop the process: procrastinate's
worker stops itself when its heartbeat, listener or a fetch fails, and is started again here
(with a new psycopg pool, after `RESTART_BACKOFF_S`) until it runs; the loops (webhook
deliveries) retry their own rounds, and the tasks' asyncpg pool reconnects when it is next used.
Jobs that were running are finished, retried or fenced as after any stop (docs/jobs.md).

Shutdown: on the signal, the loops are told to stop and the worker takes no new job; running
jobs get `EAGLET_JOBS__SHUTDOWN_GRACE_S` to finish, then they are aborted and queued again by
their retry strategy. A loop ending on its own, or procrastinate's worker failing with an error that
is not the database's, stops the process (exit status 1).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import asyncpg
import psycopg
import psycopg_pool

from services.common.db import connect_options, plain_url
from services.common.errors import connection_error
from services.common.jobs import WorkerResources
from services.common.process import run_until_signalled
from services.common.settings import Settings
from services.jobs import health
from services.jobs import loops as registered
from services.jobs.app import app, queue_connector, schedule
from services.registry.pool import runner

log = logging.getLogger("eaglet.worker")

# procrastinate's worker started again after it stopped on its own: after 0.5 s, doubling to 10 s
# while it keeps stopping; back to 0.5 s once it ran for a minute.
RESTART_BACKOFF_S = (0.5, 10.0)
RAN_WELL_S = 60.0


async def run(settings: Settings, stop: asyncio.Event, *, name: str = "eaglet-worker") -> None:
    """Run the worker and the loops until `stop` is set; raises if one of them ended first."""
    settings = settings.for_process("worker")  # its own role's URL (EAGLET_JOBS__DATABASE_URL), when set
    schedule(settings)
    db = await asyncpg.create_pool(
        plain_url(settings.database_url or ""),
        min_size=0,  # none opened at start: a worker started while the database is away waits for it
        max_size=settings.jobs.task_pool_size,
        server_settings={
            "application_name": f"{name}-tasks",
            "statement_timeout": str(settings.db.statement_timeout_ms),
            "TimeZone": "UTC",
        },
        **connect_options(settings),
    )
    try:
        with app.replace_connector(queue_connector(settings)):
            await _run_worker(settings, stop, name, db)
    finally:
        runner.shutdown_pools("background")
        with suppress(Exception):
            await db.close()


async def _run_worker(settings: Settings, stop: asyncio.Event, name: str, db: asyncpg.Pool) -> None:
    """procrastinate's worker (`_procrastinate`) and the loops."""
    failed: BaseException | str | None = None
    worker = asyncio.create_task(_procrastinate(settings, stop, name, db), name="procrastinate-worker")
    loops = [asyncio.create_task(loop(settings, stop), name=loop.__qualname__) for loop in registered.LOOPS]
    if settings.jobs.health_port:
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


async def _procrastinate(settings: Settings, stop: asyncio.Event, name: str, db: asyncpg.Pool) -> None:
    """procrastinate's worker (the App opened on its connector's own pool), started again whenever
    the database went away under it: it then stops itself (a side task or a fetch fails) and
    raises the database's error when it cannot unregister; its pool is opened afresh each time.
    Stopping for another reason ends it (and the process). Cancelled: procrastinate's graceful stop."""
    jobs = settings.jobs
    loop = asyncio.get_running_loop()
    backoff = RESTART_BACKOFF_S[0]
    while True:
        started = loop.time()
        failures = _SideTaskFailures()
        logging.getLogger("procrastinate").addHandler(failures)
        try:
            async with app.open_async():
                await app.run_worker_async(
                    name=name,
                    concurrency=jobs.concurrency,
                    install_signal_handlers=False,
                    update_heartbeat_interval=jobs.heartbeat_s,
                    stalled_worker_timeout=jobs.stalled_after_s,
                    fetch_job_polling_interval=jobs.poll_s,
                    abort_job_polling_interval=jobs.poll_s,
                    shutdown_graceful_timeout=jobs.shutdown_grace_s,
                    additional_context={"eaglet": WorkerResources(settings=settings, db=db)},
                )
        except Exception as e:
            if not database_away(e):
                raise
            why = f"failed: {type(e).__name__}: {e}"
        else:
            if stop.is_set():
                return
            # It stopped itself: a side task failed (procrastinate logs which, and why).
            if not failures.seen or not all(database_away(e) for e in failures.seen):
                raise RuntimeError(f"procrastinate's worker stopped on its own: {failures.seen!r}")
            why = f"stopped itself: {failures.seen[-1]!r}"
        finally:
            logging.getLogger("procrastinate").removeHandler(failures)
        if stop.is_set():
            return
        if loop.time() - started >= RAN_WELL_S:
            backoff = RESTART_BACKOFF_S[0]
        log.warning("procrastinate's worker %s; starting it again in %.1f s", why, backoff)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        if stop.is_set():
            return
        backoff = min(backoff * 2, RESTART_BACKOFF_S[1])


class _SideTaskFailures(logging.Handler):
    """The errors procrastinate's worker stopped itself for: it logs a failed side task
    (heartbeat, listener, deferrer) with its exception, and returns without raising it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) == "side_task_failed" and record.exc_info:
            self.seen.append(record.exc_info[1])


def database_away(exc: BaseException) -> bool:
    """Whether `exc` (procrastinate wraps psycopg's errors) says the database is away: psycopg's
    OperationalError (connection lost or refused, the server shutting down), its pool's timeout, a
    standby's read-only or starting-up refusal, or the asyncpg errors of errors.connection_error."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.InterfaceError)):
            return True
        if isinstance(e, (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.CannotConnectNow)):
            return True
        if connection_error(e):
            return True
        todo += [e.__cause__, e.__context__]
    return False


def main(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT (the process's entry point)."""
    run_until_signalled(lambda stop: run(settings, stop))
