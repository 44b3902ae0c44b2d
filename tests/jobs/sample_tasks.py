"""Tasks that exist for the tests only, added to the job runner's App under the namespace
`tests` when this module is imported (by the tests that defer them)."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.jobs import Run, run_tracked
from services.jobs.app import app

NAMESPACE = "tests"
blueprint = Blueprint()
FLAKY = f"{NAMESPACE}:flaky"
# Two retries, 1 s then 2 s after the failure (wait 1 s + 1 s per earlier run).
BACKOFF = RetryStrategy(max_attempts=2, wait=1, linear_wait=1)


class Flaked(Exception):
    pass


@blueprint.task(name="flaky", pass_context=True, retry=BACKOFF)
async def flaky(context: JobContext, job_id: int) -> None:
    """Fails its first `params.fail_runs` runs, then succeeds with its run's number."""

    async def work(run: Run) -> None:
        if run.attempt <= run.job.params["fail_runs"]:
            raise Flaked(f"run {run.attempt} fails on purpose")
        from services.common.jobs import resources

        async with resources(context).db.acquire() as conn, conn.transaction():
            await run.succeed(conn, {"run": run.attempt})

    async def failed(conn, run: Run, problem: dict) -> None:
        await conn.execute(
            "UPDATE registry.jobs SET result = $2::jsonb WHERE id = $1", run.job.id, '{"failure": "noted"}'
        )

    await run_tracked(context, "registry", job_id, work, on_failure=failed)


if f"{NAMESPACE}:flaky" not in app.tasks:
    app.add_tasks_from(blueprint, namespace=NAMESPACE)
