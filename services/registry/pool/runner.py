"""Where screenings run: worker processes beside the service, never its event loop.

Two small process pools per service process (`EAGLET_SCREENING__PROCESSES` workers each, started
on first use with `spawn`, niced by `EAGLET_SCREENING__NICE`): one evaluates the screenings
answered in their request, one runs background screenings — so a province-wide run never queues
a county's screening behind it. A worker that dies (killed, out of memory) breaks its pool: the
run it held fails and the next one starts a fresh pool.

A background run is supervised by a task of the service process that keeps its heartbeat while it
waits for a worker and runs, and marks it failed (with a problem) when the worker raises or dies.
If the service process itself dies, the heartbeat stops: once it is older than
`EAGLET_SCREENING__LEASE_S` the screening is reported failed (`screening_abandoned`, see
service.get_screening) and a worker that still finishes it commits nothing.

Limitation, until the job runner arrives (a PostgreSQL queue in its own worker process): runs live
in the process that accepted them — nothing picks up an abandoned run, it must be started again;
shutting a service down waits for the screening its worker is evaluating.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.settings import Settings
from services.registry.errors import ScreeningFailed, ScreeningWorkerDied
from services.registry.pool import evaluation
from services.registry.pool import repository as repo
from services.registry.pool.evaluation import BackgroundRun, Run

log = logging.getLogger("eaglet.screenings")
_pools: dict[str, ProcessPoolExecutor] = {}


def _pool(kind: str, settings: Settings) -> ProcessPoolExecutor:
    pool = _pools.get(kind)
    if pool is None:
        pool = _pools[kind] = ProcessPoolExecutor(
            max_workers=max(1, settings.screening.processes),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=evaluation.init_worker,
            initargs=(settings.screening.nice, os.getpid()),
        )
    return pool


async def _in_worker(kind: str, settings: Settings, fn: Any, run: Run) -> Any:
    pool = _pool(kind, settings)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, run)
    except BrokenProcessPool:
        if _pools.get(kind) is pool:
            del _pools[kind]  # the next run starts fresh workers
        raise


async def evaluate(settings: Settings, run: Run) -> list[tuple[str, str, str]]:
    """An answered screening's (credit code, outcome, criteria JSON) per enterprise."""
    return await _in_worker("answered", settings, evaluation.evaluate_answered, run)


async def start(app: Any, principal: Principal, run: BackgroundRun) -> None:
    """Start supervising a background run (its screening row is committed by now: this runs as
    the response's background task). Returns at once; the task is kept by the app."""
    task = asyncio.create_task(_supervise(app, principal, run), name=f"screening-{run.screening_id}")
    runs = getattr(app.state, "screening_runs", None)
    if runs is None:
        runs = app.state.screening_runs = set()
    runs.add(task)
    task.add_done_callback(runs.discard)


async def shutdown(app: Any) -> None:
    """At the app's shutdown: stop the workers — uvicorn ends the process with the signal it got,
    past the interpreter's own clean-up that would have stopped them — and give the supervising
    tasks a moment to record that their runs stopped (`screening_worker_died`)."""
    pools = list(_pools.values())
    _pools.clear()
    for pool in pools:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
    runs = getattr(app.state, "screening_runs", None)
    if runs:
        await asyncio.wait(list(runs), timeout=10)


async def _heartbeat(app: Any, screening_id: int, every_s: float) -> None:
    while True:
        try:
            async with app.state.sessionmaker() as session:
                await repo.heartbeat(session, screening_id)
                await session.commit()
        except Exception:  # a missed beat is retried; the lease allows for several
            log.warning("screening %s: heartbeat not written", screening_id, exc_info=True)
        await asyncio.sleep(every_s)


async def _supervise(app: Any, principal: Principal, run: BackgroundRun) -> None:
    settings: Settings = app.state.settings
    beat = asyncio.create_task(_heartbeat(app, run.screening_id, settings.screening.heartbeat_s))
    try:
        counts = await _in_worker("background", settings, evaluation.run_background, run)
        log.info("screening %s done: %s", run.screening_id, counts)
    except Exception as exc:
        log.error("screening %s failed", run.screening_id, exc_info=exc)
        beat.cancel()
        await _fail(app, principal, run.screening_id, exc)
    finally:
        beat.cancel()


def run_problem(exc: BaseException) -> dict[str, Any]:
    """The problem a failed run reports (nothing internal: the log has the details)."""
    if isinstance(exc, BrokenProcessPool):
        return ScreeningWorkerDied.body()
    return ScreeningFailed.body()


async def _fail(app: Any, principal: Principal, screening_id: int, exc: BaseException) -> None:
    problem = run_problem(exc)
    try:
        async with app.state.sessionmaker() as session:
            if await repo.mark_failed(session, screening_id, problem):
                await record_changes(
                    session,
                    "registry",
                    principal,
                    [Change("failed", "screening", str(screening_id), None, {"error": problem["code"]})],
                )
            await session.commit()
    except Exception:  # the lease reports it failed anyway once the heartbeat stops
        log.error("screening %s: could not be marked failed", screening_id, exc_info=True)
