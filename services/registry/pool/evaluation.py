"""A screening's evaluation, run in a process of its own (runner.py), never on an event loop.

The evaluation is CPU-bound Python — every enterprise of the region with its indicator rows is
read, evaluated and its criteria list serialised (seconds for a large region: docs/registry.md,
"Tenants do not stall each other") — and a thread would hold the GIL against the loop serving
requests (or the job worker's heartbeat). A process reads the region's enterprises with their
indicator rows as one stream in credit-code order (`repository.screening_input`), evaluates
each enterprise as it arrives (`rules.evaluate`, the one definition of the criteria) and:
- `evaluate_answered`: hands back (credit code, outcome, criteria JSON) for every enterprise — a
  screening answered in its request; the request writes them in its unit of work;
- `run_background`: a job's run (pool/tasks.py): streams them into `screening_results` with COPY
  and marks the screening done, its job succeeded and its `completed` change, in one transaction
  (results and status commit together), writing its progress as it goes on a connection of its
  own. All of it only while the run still holds its job: a run taken for dead and started again
  elsewhere (services/common/jobs.py) commits nothing.
Processes lower their own priority (`init_worker`): on a small host the requests being served
get the CPU first, and the screening takes what is left.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.common.auth import Principal
from services.common.changes import Change, record_changes_on
from services.common.db import plain_url
from services.common.jobs import Run as JobRun
from services.common.jobs import Superseded
from services.common.scope import RegionScope
from services.registry.pool import repository as repo
from services.registry.pool.rules import GROWTH, evaluate, leaves

OUTCOMES = ("eligible", "ineligible", "incomplete")
PREFETCH = 2000
PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class Run:
    """What a worker needs to evaluate a screening (sent to it pickled)."""

    database_url: str
    statement_timeout_ms: int
    rule_set: dict[str, Any]
    year: int
    region: str | None
    statement_cache_size: int = 100  # EAGLET_DB__STATEMENT_CACHE_SIZE

    @property
    def years(self) -> list[int]:
        return sorted(
            {
                self.year + off - back
                for c in leaves(self.rule_set["criteria"])
                for off in c["years"]
                for back in ((0, 1) if c["indicator"] in GROWTH else (0,))
            }
        )


@dataclass(frozen=True)
class BackgroundRun(Run):
    screening_id: int = 0
    actor: Principal | None = None
    request_id: str | None = None
    job: JobRun | None = None  # the job's run this evaluation belongs to


def init_worker(nice: int, parent_pid: int) -> None:
    """Process initializer: yield the CPU to the requests being served, and end with the process
    that started it (a service or the job worker: one blocked on its task queue, or in a query,
    would otherwise outlive a killed parent, and its uncommitted work with it)."""
    if nice > 0:
        os.nice(nice)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="service-watch", daemon=True).start()


async def _connect(run: Run, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        plain_url(run.database_url),
        server_settings={
            "application_name": f"eaglet-registry-screening-{role}",
            "statement_timeout": str(run.statement_timeout_ms),
            "TimeZone": "UTC",
        },
        statement_cache_size=run.statement_cache_size,
    )


def _outcome(run: Run, enterprise: dict[str, Any], years: dict[int, dict]) -> tuple[str, str, str]:
    outcome, criteria = evaluate(run.rule_set, run.year, enterprise, years)
    return enterprise["credit_code"], outcome, orjson.dumps(criteria, default=str).decode()


async def _evaluated(conn: asyncpg.Connection, run: Run) -> AsyncIterator[tuple[str, str, str]]:
    """(credit code, outcome, criteria JSON) of every enterprise in scope, in credit-code order.
    Runs inside a transaction on `conn` (a cursor needs one)."""
    text, args = repo.screening_input(RegionScope(run.region), run.years)
    enterprise: dict[str, Any] | None = None
    years: dict[int, dict] = {}
    async for row in conn.cursor(text, *args, prefetch=PREFETCH):
        code = row["enterprise_credit_code"]
        if enterprise is None or enterprise["credit_code"] != code:
            if enterprise is not None:
                yield _outcome(run, enterprise, years)
            enterprise = {f: row[f"enterprise_{f}"] for f in repo.ENTERPRISE_FIELDS}
            years = {}
        if row["year"] is not None:
            years[row["year"]] = dict(row)
    if enterprise is not None:
        yield _outcome(run, enterprise, years)


# A worker keeps one event loop and, for answered screenings, one connection across tasks: a
# county's screening is then one round of statements, not a connection set-up as well each time
# (a set-up costs more than a small region's statements: docs/architecture.md#measurements).
_loop: asyncio.AbstractEventLoop | None = None
_readers: dict[str, asyncpg.Connection] = {}


def _run_in_worker(coroutine: Any) -> Any:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(coroutine)


async def _answered(run: Run) -> list[tuple[str, str, str]]:
    conn = _readers.get(run.database_url)
    if conn is None or conn.is_closed():
        conn = _readers[run.database_url] = await _connect(run, "read")
    try:
        async with conn.transaction(readonly=True):
            return [r async for r in _evaluated(conn, run)]
    except BaseException:
        del _readers[run.database_url]
        conn.terminate()
        raise


def evaluate_answered(run: Run) -> list[tuple[str, str, str]]:
    """Every enterprise's (credit code, outcome, criteria JSON); in a worker process."""
    return _run_in_worker(_answered(run))


async def _background(run: BackgroundRun) -> dict[str, int]:
    reader, writer, beat = await asyncio.gather(
        _connect(run, "read"), _connect(run, "write"), _connect(run, "progress")
    )
    job = run.job
    assert job is not None
    try:
        sid = run.screening_id
        count_sql, count_args = repo.count_in(RegionScope(run.region))
        total = await beat.fetchval(count_sql, *count_args)
        await job.progress(beat, 0, total)  # Superseded when the run no longer holds its job
        await beat.execute(repo.PROGRESS, sid, 0, total)
        counts = dict.fromkeys(OUTCOMES, 0)
        done = 0
        reported = time.monotonic()

        async def records() -> AsyncIterator[tuple]:
            nonlocal done, reported
            async for code, outcome, criteria in _evaluated(reader, run):
                counts[outcome] += 1
                done += 1
                yield sid, code, outcome, criteria
                if time.monotonic() - reported >= PROGRESS_EVERY_S:
                    reported = time.monotonic()
                    await job.progress(beat, done)
                    await beat.execute(repo.PROGRESS, sid, done, None)

        async with reader.transaction(readonly=True), writer.transaction():
            # The COPY is one statement lasting as long as the evaluation feeding it: the job's
            # heartbeat (its worker's), not the statement timeout, bounds it.
            await writer.execute("SET LOCAL statement_timeout = 0")
            await writer.copy_records_to_table(
                "screening_results", schema_name="registry", columns=repo.RESULT_COLUMNS, records=records()
            )
            result = {"screening_id": sid, "evaluated": done, **counts}
            await job.succeed(writer, result, done=done)  # Superseded: all of it rolls back
            finished = await writer.fetchval(
                repo.FINISH, sid, done, counts["eligible"], counts["ineligible"], counts["incomplete"]
            )
            if finished is None:
                raise Superseded(f"screening {sid} is no longer running")
            await record_changes_on(
                writer,
                "registry",
                run.actor,
                [Change("completed", "screening", str(sid), None, {"evaluated": done, **counts})],
                run.request_id,
            )
        return {"evaluated": done, **counts}
    finally:
        await asyncio.gather(reader.close(), writer.close(), beat.close(), return_exceptions=True)


def run_background(run: BackgroundRun) -> dict[str, int]:
    """Evaluate and store a background screening; in a worker process."""
    return _run_in_worker(_background(run))
