"""A failed run is retried with its task's backoff, the status row going back to queued; the last
failure marks the job failed with a problem; a job whose worker died on every run allowed fails."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.jobs import sample_tasks
from tests.jobs.helpers import ended, queue_ended, start_job, wait_for


async def events(db, queue_job_id: int) -> list[tuple[str, object]]:
    rows = await db.fetch(
        "SELECT type::text AS type, at FROM jobs.procrastinate_events WHERE job_id = $1 ORDER BY id",
        queue_job_id,
    )
    return [(r["type"], r["at"]) for r in rows]


async def test_a_job_that_fails_is_retried_with_backoff_and_then_succeeds(db, in_process_worker):
    job_id = await start_job(db, sample_tasks.FLAKY, {"fail_runs": 2})
    await in_process_worker()
    row = await wait_for(lambda: ended(db, job_id), "the job to end")
    assert row["status"] == "succeeded" and row["attempt"] == 3
    assert json.loads(row["result"]) == {"run": 3} and row["error"] is None

    queued = await queue_ended(db, row["queue_job_id"])
    assert (queued["status"], queued["attempts"]) == ("succeeded", 3)  # runs ended
    seen = await events(db, row["queue_job_id"])
    runs = [(k, at) for k, at in seen if k != "scheduled"]
    assert [k for k, _ in runs] == [
        "deferred",
        "started",
        "deferred_for_retry",
        "started",
        "deferred_for_retry",
        "started",
        "succeeded",
    ]
    # the backoff: 1 s after the first failure, 2 s after the second; no run before its time
    scheduled = [at for k, at in seen if k == "scheduled"]
    failures = [at for k, at in runs if k == "deferred_for_retry"]
    starts = [at for k, at in runs if k == "started"]
    assert len(scheduled) == len(failures) == 2
    # The retry time is the worker's clock at the failure plus the backoff; the run it retries had
    # started before that (its `started` event is written before the task runs), so measured from
    # that start the wait is at least the backoff however busy the machine is.
    waits = [scheduled_for - starts[n] for n, scheduled_for in enumerate(scheduled)]
    assert waits[0] >= timedelta(seconds=1) and waits[1] >= timedelta(seconds=2)
    assert all(f >= st for f, st in zip(failures, starts, strict=False))
    for n, scheduled_for in enumerate(scheduled):
        assert starts[n + 1] >= scheduled_for


async def test_a_job_failing_every_run_ends_failed_with_a_problem_and_its_domains_failure(
    db, in_process_worker
):
    job_id = await start_job(db, sample_tasks.FLAKY, {"fail_runs": 99})
    await in_process_worker()
    row = await wait_for(lambda: ended(db, job_id), "the job to end")
    assert row["status"] == "failed" and row["attempt"] == 3
    error = json.loads(row["error"])
    assert error["code"] == "job_failed" and error["status"] == 500
    assert "on purpose" not in json.dumps(error)  # nothing internal in the problem
    assert json.loads(row["result"]) == {"failure": "noted"}  # on_failure, with the failure
    assert (await queue_ended(db, row["queue_job_id"]))["status"] == "failed"


async def test_a_job_whose_worker_died_on_every_run_allowed_fails_job_worker_died(db, in_process_worker):
    job_id = await start_job(db, sample_tasks.FLAKY, {"fail_runs": 0})
    # as if the stalled-job sweep had put it back after each of its three runs
    await db.execute(
        "UPDATE jobs.procrastinate_jobs SET attempts = 3 WHERE id = "
        "(SELECT queue_job_id FROM registry.jobs WHERE id = $1)",
        job_id,
    )
    await db.execute("UPDATE registry.jobs SET attempt = 3, status = 'running' WHERE id = $1", job_id)
    await in_process_worker()
    row = await wait_for(lambda: ended(db, job_id), "the job to end")
    assert row["status"] == "failed"
    assert json.loads(row["error"])["code"] == "job_worker_died"
    assert json.loads(row["result"]) == {"failure": "noted"}
