"""Jobs a service starts: the status row (`<schema>.jobs`), its place in the queue, who may read
it, and how a task's runs write to it.

The queue is procrastinate's (schema `jobs`, the `eaglet worker` process: services/jobs/). A
request that starts long work adds the status row and defers the queue's job **in its own unit of
work** (`enqueue`): both commit with the work's own rows, or neither does, so a job is never lost
between a commit and a separate defer, and never runs for a request that rolled back. The
defer calls procrastinate's own SQL function (`procrastinate_defer_jobs_v1`, the function its
`Task.defer` calls) on the request's asyncpg connection: procrastinate defers on a given
connection only through psycopg, and the services run asyncpg.

In the worker a task runs its job through `run_tracked`: each run takes the row (`attempt` + 1)
and writes progress, success or failure only while the row still carries its number; a run that
was taken for dead (its worker's heartbeat stopped, see services/jobs/upkeep.py) and started again
elsewhere is superseded and writes nothing more. A failed run is retried by the task's
procrastinate `RetryStrategy` (backoff) and the row goes back to `queued`; the last failure marks
it `failed` with a problem. A job whose worker died on every allowed run fails `job_worker_died`.

Who may read a job: the caller who started it — for organisations (banks, guarantors,
certifiers) the institution, for people (officials) the person — and admins. Anyone else gets a
404, as for a job that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson
from pydantic import BaseModel, Field

from services.common.auth import Principal
from services.common.db import local_settings
from services.common.errors import JobFailed, JobWorkerDied, ProblemDetail

log = logging.getLogger("eaglet.jobs")

QUEUE_SCHEMA = "jobs"  # procrastinate's tables; its SQL names nothing by schema
DEFAULT_QUEUE = "default"
ORG_KINDS = ("bank", "guarantor", "certifier")  # their jobs belong to the institution
Status = Literal["queued", "running", "succeeded", "failed"]

COLUMNS = (
    "id, kind, status, owner_kind, owner_sub, owner_org, owner_region, params, subject_id, queue_job_id, attempt, "
    "progress, total, result, error, created_at, started_at, updated_at, finished_at"
)


class Superseded(Exception):
    """This run no longer holds its job: it was started again elsewhere, or it has ended."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    owner: Principal
    params: dict[str, Any]
    subject_id: int | None
    attempt: int
    progress: int
    total: int | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> Job:
        def js(v: Any) -> Any:
            return orjson.loads(v) if isinstance(v, str) else v

        return cls(
            id=row["id"],
            kind=row["kind"],
            status=row["status"],
            owner=Principal(
                sub=row["owner_sub"], kind=row["owner_kind"], org=row["owner_org"], region=row["owner_region"]
            ),
            params=js(row["params"]),
            subject_id=row["subject_id"],
            attempt=row["attempt"],
            progress=row["progress"],
            total=row["total"],
            result=js(row["result"]),
            error=js(row["error"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


# ---- in a request: start a job -------------------------------------------------------------------


async def defer(
    conn: asyncpg.Connection,
    task_name: str,
    args: dict[str, Any],
    *,
    queue: str = DEFAULT_QUEUE,
    priority: int = 0,
    lock: str | None = None,
    queueing_lock: str | None = None,
) -> int:
    """Defer a procrastinate job on `conn`, inside its transaction: the queue's job id. The
    queue's functions and triggers name their tables without a schema, so the search path is
    `jobs` for the call and back to what it was after (both transaction-local)."""
    async with local_settings(conn, {"search_path": QUEUE_SCHEMA}):
        return await conn.fetchval(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW($1::varchar, $2::varchar, $3::int, "
            "$4::text, $5::text, $6::jsonb, NULL::timestamptz)::procrastinate_job_to_defer_v1]))",
            queue,
            task_name,
            priority,
            lock,
            queueing_lock,
            _json(args),
        )


async def enqueue(
    conn: asyncpg.Connection,
    schema: str,
    *,
    kind: str,
    task_name: str,
    principal: Principal,
    params: dict[str, Any],
    subject_id: int | None = None,
    queue: str = DEFAULT_QUEUE,
) -> int:
    """Add a job's status row (queued, owned by `principal`) and defer its task with
    `{"job_id": id}`, in `conn`'s transaction (the request's unit of work); the job's id."""
    job_id = await conn.fetchval(
        f"INSERT INTO {schema}.jobs (kind, owner_kind, owner_sub, owner_org, owner_region, params, "
        "subject_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id",
        kind,
        principal.kind,
        principal.sub,
        principal.org,
        principal.region,
        _json(params),
        subject_id,
    )
    queue_job_id = await defer(conn, task_name, {"job_id": job_id}, queue=queue)
    await conn.execute(f"UPDATE {schema}.jobs SET queue_job_id = $2 WHERE id = $1", job_id, queue_job_id)
    return job_id


def owner_condition(principal: Principal, first: int = 1) -> tuple[str, list[Any]]:
    """The jobs `principal` may read, as a condition with asyncpg arguments from `$first`."""
    if principal.is_admin:
        return "TRUE", []
    if principal.kind in ORG_KINDS:
        return f"owner_kind = ${first} AND owner_org = ${first + 1}", [principal.kind, principal.org]
    return f"owner_kind = ${first} AND owner_sub = ${first + 1}", [principal.kind, principal.sub]


async def visible_job(conn: Any, schema: str, principal: Principal, job_id: int) -> Job | None:
    """The job if `principal` may read it (else None: the route's 404). `conn`: anything with
    asyncpg's `fetch` (a connection, the read pool's `Reader`)."""
    condition, args = owner_condition(principal, first=2)
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {schema}.jobs WHERE id = $1 AND {condition}", job_id, *args
    )
    return Job.of(rows[0]) if rows else None


async def job_of(conn: Any, schema: str, kind: str, subject_id: int) -> Job | None:
    """The latest job of `kind` working on a record."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {schema}.jobs WHERE kind = $1 AND subject_id = $2 ORDER BY id DESC LIMIT 1",
        kind,
        subject_id,
    )
    return Job.of(rows[0]) if rows else None


async def active_jobs(conn: Any, schema: str, kind: str, principal: Principal) -> int:
    """Jobs of `kind` the caller has queued or running."""
    condition, args = owner_condition(principal, first=2)
    rows = await conn.fetch(
        f"SELECT count(*) FROM {schema}.jobs WHERE kind = $1 AND status IN ('queued', 'running') "
        f"AND {condition}",
        kind,
        *args,
    )
    return rows[0][0]


# ---- the status resource -------------------------------------------------------------------------


class JobProgress(BaseModel):
    done: int = Field(description="Units of work done so far (enterprises evaluated, rows written)")
    total: int | None = Field(None, description="Units in all, once the job has counted them")


class JobLinks(BaseModel):
    self: str = Field(description="This status resource (gateway path)")
    result: str | None = Field(
        None, description="What the job produces: the screening it evaluates, the export's file once done"
    )


class JobOut(BaseModel):
    id: int
    kind: str = Field(description="screening | export")
    status: Status = Field(
        description="queued: waiting for a worker (also between retries); running; succeeded: "
        "`links.result` holds the outcome; failed: see `error`"
    )
    progress: JobProgress
    attempts: int = Field(description="Runs started so far (a failed run is retried with backoff)")
    result: dict[str, Any] | None = Field(None, description="A summary of the outcome once succeeded")
    error: ProblemDetail | None = Field(None, description="Why the job failed (a problem body)")
    links: JobLinks
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobRef(BaseModel):
    """A job as another resource mentions it."""

    id: int
    status: Status
    href: str = Field(description="Its status resource (gateway path)")


def job_out(job: Job, self_href: str, result_href: str | None) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,  # type: ignore[arg-type]
        progress=JobProgress(done=job.progress, total=job.total),
        attempts=job.attempt,
        result=job.result,
        error=job.error,
        links=JobLinks(self=self_href, result=result_href),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


# ---- in the worker: a task's run -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkerResources:
    """What the worker gives its tasks (procrastinate's `additional_context["eaglet"]`)."""

    settings: Any  # services.common.settings.Settings
    db: asyncpg.Pool  # the tasks' own connections (procrastinate keeps its psycopg pool)


def resources(context: Any) -> WorkerResources:
    return context.additional_context["eaglet"]


@dataclass(frozen=True)
class Run:
    """One run of a job: the job as the run took it, and the run's number."""

    schema: str
    job: Job

    @property
    def attempt(self) -> int:
        return self.job.attempt

    async def progress(self, conn: asyncpg.Connection, done: int, total: int | None = None) -> None:
        """Report progress; Superseded when the run no longer holds its job."""
        ok = await conn.fetchval(
            f"UPDATE {self.schema}.jobs SET progress = $3, total = coalesce($4, total), updated_at = now() "
            "WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING true",
            self.job.id,
            self.attempt,
            done,
            total,
        )
        if not ok:
            raise Superseded(f"job {self.job.id} run {self.attempt}")

    async def succeed(
        self, conn: asyncpg.Connection, result: dict[str, Any] | None = None, done: int | None = None
    ) -> None:
        """Mark the job succeeded, in `conn`'s transaction (with the work's own writes);
        Superseded when the run no longer holds its job (roll the transaction back)."""
        ok = await conn.fetchval(
            f"UPDATE {self.schema}.jobs SET status = 'succeeded', result = $3::jsonb, "
            "progress = coalesce($4, progress), total = coalesce($4, total), finished_at = now(), "
            "updated_at = now() WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING true",
            self.job.id,
            self.attempt,
            _json(result),
            done,
        )
        if not ok:
            raise Superseded(f"job {self.job.id} run {self.attempt}")

    async def fail(self, conn: asyncpg.Connection, problem: dict[str, Any]) -> bool:
        return bool(
            await conn.fetchval(
                f"UPDATE {self.schema}.jobs SET status = 'failed', error = $3::jsonb, finished_at = now(), "
                "updated_at = now() WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING true",
                self.job.id,
                self.attempt,
                _json(problem),
            )
        )

    async def requeue(self, conn: asyncpg.Connection) -> None:
        """Back to queued: the queue runs the job again after the retry strategy's wait."""
        await conn.execute(
            f"UPDATE {self.schema}.jobs SET status = 'queued', updated_at = now() "
            "WHERE id = $1 AND attempt = $2 AND status = 'running'",
            self.job.id,
            self.attempt,
        )


async def begin_run(conn: asyncpg.Connection, schema: str, job_id: int) -> Run | None:
    """Take the job for a new run (None: it has ended, or is gone)."""
    row = await conn.fetchrow(
        f"UPDATE {schema}.jobs SET status = 'running', attempt = attempt + 1, "
        "started_at = coalesce(started_at, now()), updated_at = now() "
        f"WHERE id = $1 AND status IN ('queued', 'running') RETURNING {COLUMNS}",
        job_id,
    )
    return Run(schema, Job.of(row)) if row else None


def _strategy(context: Any) -> Any:
    task = context.app.tasks.get(context.job.task_name)
    return task.retry_strategy if task is not None else None


def will_retry(context: Any, exc: BaseException) -> bool:
    """Whether procrastinate runs the job again after this exception (its task's strategy)."""
    strategy = _strategy(context)
    return strategy is not None and strategy.get_retry_decision(exception=exc, job=context.job) is not None


def runs_allowed(context: Any) -> int:
    """How many runs a job of this task may have: its strategy's retries plus the first run."""
    strategy = _strategy(context)
    limit = getattr(strategy, "max_attempts", None)
    return 1 + (limit if limit else 0)


Work = Callable[[Run], Awaitable[None]]
OnFailure = Callable[[asyncpg.Connection, Run, dict[str, Any]], Awaitable[None]]


async def run_tracked(
    context: Any,
    schema: str,
    job_id: int,
    work: Work,
    *,
    on_failure: OnFailure | None = None,
    problem: Callable[[BaseException], dict[str, Any]] = lambda exc: JobFailed.body(),
) -> None:
    """Run one job of a procrastinate task (`pass_context=True`) against its status row.

    `work(run)` does the job and marks it succeeded with `run.succeed` in the transaction of its
    own last writes. When it raises, a run that the task's strategy retries puts the job back to
    queued and re-raises (procrastinate schedules the retry); the last one marks it failed with
    `problem(exc)`, and `on_failure` writes the domain's own failure in the same transaction.
    A superseded run ends quietly."""
    pool = resources(context).db
    async with pool.acquire() as conn:
        run = await begin_run(conn, schema, job_id)
    if run is None:
        log.info("job %s (%s): ended already, nothing to run", job_id, context.job.task_name)
        return
    if context.job.attempts >= runs_allowed(context):
        # Only a stalled run's retry gets here (the strategy stops the others): its worker died
        # on every run allowed.
        await _fail(pool, run, JobWorkerDied.body(runs=context.job.attempts), on_failure)
        return
    try:
        await work(run)
    except Superseded:
        log.warning("job %s run %s: superseded by a later run; stopped", job_id, run.attempt)
    except asyncio.CancelledError as exc:
        # The worker is shutting down and its grace has run out: procrastinate aborts the run
        # and retries it by the same strategy; with none left it would stay `running` forever.
        if will_retry(context, exc):
            async with pool.acquire() as conn:
                await run.requeue(conn)
        else:
            await _fail(pool, run, JobWorkerDied.body(runs=context.job.attempts + 1), on_failure)
        raise
    except Exception as exc:
        if will_retry(context, exc):
            log.warning("job %s run %s failed; retried", job_id, run.attempt, exc_info=exc)
            async with pool.acquire() as conn:
                await run.requeue(conn)
        else:
            log.error("job %s run %s failed; no retry left", job_id, run.attempt, exc_info=exc)
            await _fail(pool, run, problem(exc), on_failure)
        raise


async def _fail(pool: asyncpg.Pool, run: Run, problem: dict[str, Any], on_failure: OnFailure | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await run.fail(conn, problem) and on_failure is not None:
            await on_failure(conn, run, problem)
