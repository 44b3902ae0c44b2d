"""The background screening, a job of the worker (services/jobs/): its run evaluates the region in
a process of its own (runner.py, evaluation.py `run_background`) and stores the results.

`POST /v1/screenings` over a large region adds the screening `running`, its job's status row and
the queue's job in one unit of work (service.screen, services/common/jobs.py `enqueue`). A run
that raises is retried by `RETRY` (with backoff), its screening staying `running` with its
progress started over; the last failure marks the screening `failed` with the problem and writes
its `failed` change. A worker killed mid-run is noticed by its stopped heartbeat and the job runs
again on another worker (services/jobs/upkeep.py).
"""

from __future__ import annotations

import orjson
from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.changes import Change, record_changes_on
from services.common.jobs import Run, resources, run_tracked
from services.registry.pool import evaluation, runner
from services.registry.pool import repository as repo
from services.registry.pool.evaluation import BackgroundRun

NAMESPACE = "registry.pool"
blueprint = Blueprint()
SCREENING = f"{NAMESPACE}:screening"  # the queue's name of the task below
JOB_KIND = "screening"
# Two more runs after a failed one, 10 s then 100 s later: what fails a screening on its own
# (a database restart, a process killed for memory) is usually gone by then.
RETRY = RetryStrategy(max_attempts=2, exponential_wait=10)


@blueprint.task(name="screening", pass_context=True, retry=RETRY)
async def screening(context: JobContext, job_id: int) -> None:
    settings = resources(context).settings

    async def work(run: Run) -> None:
        job = run.job
        params = job.params
        background = BackgroundRun(
            database_url=settings.database_url,
            statement_timeout_ms=settings.db.statement_timeout_ms,
            statement_cache_size=settings.db.statement_cache_size,
            rule_set=params["rule_set"],
            year=params["year"],
            region=params["region"],
            screening_id=job.subject_id,
            actor=job.owner,
            request_id=params.get("request_id"),
            job=run,
        )
        await runner.in_process("background", settings, evaluation.run_background, background)

    async def failed(conn, run: Run, problem: dict) -> None:
        sid = run.job.subject_id
        if await conn.fetchval(repo.FAIL, sid, orjson.dumps(problem).decode()):
            await record_changes_on(
                conn,
                "registry",
                run.job.owner,
                [Change("failed", "screening", str(sid), None, {"error": problem["code"]})],
                run.job.params.get("request_id"),
            )

    await run_tracked(context, "registry", job_id, work, on_failure=failed, problem=runner.run_problem)
