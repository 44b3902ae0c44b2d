"""Where screenings are evaluated: processes of their own, never an event loop.

A small process pool per kind (`EAGLET_SCREENING__PROCESSES` processes each, started on first
use with `spawn`, niced by `EAGLET_SCREENING__NICE`): "answered" in a service process, for the
screenings answered in their request; "background" in the job worker (pool/tasks.py), for the
large ones. The evaluation is CPU-bound Python: in a thread it would hold the GIL against the
loop serving requests, or against the worker's heartbeat. A process that dies (killed, out of
memory) breaks its pool: the screening it held fails (the job is retried) and the next one starts
a fresh pool. Each process ends with the process that started it (evaluation.init_worker).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from services.common.settings import Settings
from services.registry.errors import ScreeningFailed, ScreeningWorkerDied
from services.registry.pool import evaluation
from services.registry.pool.evaluation import Run

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


async def in_process(kind: str, settings: Settings, fn: Any, run: Run) -> Any:
    """`fn(run)` in a process of the `kind` pool."""
    pool = _pool(kind, settings)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, run)
    except BrokenProcessPool:
        if _pools.get(kind) is pool:
            del _pools[kind]  # the next run starts fresh processes
        raise


async def evaluate(settings: Settings, run: Run) -> list[tuple[str, str, str]]:
    """An answered screening's (credit code, outcome, criteria JSON) per enterprise."""
    return await in_process("answered", settings, evaluation.evaluate_answered, run)


def shutdown_pools(*kinds: str) -> None:
    """Stop the processes of these pools (all when none is named) — a server or worker ends the
    process with the signal it got, past the interpreter's own clean-up that would have stopped them."""
    pools = [_pools.pop(kind) for kind in (kinds or list(_pools)) if kind in _pools]
    for pool in pools:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)


async def shutdown(app: Any) -> None:
    """At a service's shutdown."""
    shutdown_pools("answered")


def run_problem(exc: BaseException) -> dict[str, Any]:
    """The problem a failed background screening reports (nothing internal: the log has it)."""
    if isinstance(exc, BrokenProcessPool):
        return ScreeningWorkerDied.body()
    return ScreeningFailed.body()
