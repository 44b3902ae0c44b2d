"""A worker killed mid-job (SIGKILL: no clean-up of any kind) leaves its job `doing`; once its
heartbeat is older than the stall timeout another worker runs the job again, and only the new
run's results are stored. Also: SIGTERM stops a worker cleanly."""

from __future__ import annotations

import json
import signal

import asyncpg
import pytest

from services.common.db import plain_url
from tests.jobs.helpers import job_row, queue_ended, wait_for
from tests.registry.test_screenings_background import SCREENING, five_enterprises
from tests.support import registry_screening_in_background, start_worker


@pytest.fixture
async def background(database_url):
    async with registry_screening_in_background(2) as client:
        yield client


@pytest.fixture
def workers():
    started = []

    def start(name: str):
        w = start_worker(name=name)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


async def blocked_screening_statements(db) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'eaglet-registry-screening-%' "
        "AND wait_event_type = 'Lock'"
    )


async def test_a_screening_whose_worker_is_killed_mid_run_is_run_again_by_another_worker(
    client_for, background, as_, db, database_url, workers
):
    c = client_for("registry")
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106")
    accepted = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert accepted.status_code == 202, accepted.text
    sid, job_id = accepted.json()["id"], accepted.json()["job"]["id"]

    # The region's enterprises are locked: a run starts, then waits on its first read.
    locker = await asyncpg.connect(plain_url(database_url))
    tr = locker.transaction()
    await tr.start()
    try:
        await locker.execute("LOCK TABLE registry.enterprises IN ACCESS EXCLUSIVE MODE")
        first = workers("worker-a")
        await wait_for(lambda: blocked_screening_statements(db), "the first run to be reading", 90)
        row = await job_row(db, job_id)
        assert (row["status"], row["attempt"]) == ("running", 1)

        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        workers("worker-b")

        async def second_run():
            r = await job_row(db, job_id)
            return r["attempt"] == 2 and await blocked_screening_statements(db)

        await wait_for(second_run, "another worker to run the job again", 90)
    finally:
        await tr.rollback()
        await locker.close()

    async def done():
        r = await job_row(db, job_id)
        return r if r["status"] in ("succeeded", "failed") else None

    row = await wait_for(done, "the second run to finish", 90)
    assert row["status"] == "succeeded" and row["attempt"] == 2, row
    assert json.loads(row["result"])["evaluated"] == 5
    screening = (await c.get(f"/v1/screenings/{sid}", headers=official)).json()
    assert screening["status"] == "done" and screening["progress"] == {"evaluated": 5, "total": 5}
    assert (
        await db.fetchval("SELECT count(*) FROM registry.screening_results WHERE screening_id = $1", sid) == 5
    )
    actions = await db.fetch(
        "SELECT action FROM registry.changes WHERE entity_type = 'screening' AND entity_key = $1 ORDER BY seq",
        str(sid),
    )
    assert [a["action"] for a in actions] == ["created", "completed"]
    queued = await queue_ended(db, row["queue_job_id"])
    assert queued["status"] == "succeeded"
    retried = await db.fetchval(
        "SELECT count(*) FROM jobs.procrastinate_events WHERE job_id = $1 AND type = 'deferred_for_retry'",
        row["queue_job_id"],
    )
    assert retried == 1  # the stalled-job sweep's retry_job


async def test_sigterm_stops_a_worker_cleanly(db, workers):
    worker = workers("worker-term")
    await wait_for(
        lambda: db.fetchval("SELECT count(*) FROM jobs.procrastinate_workers"), "it to register", 60
    )
    assert worker.stop() == 0, worker.log()
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_workers") == 0  # unregistered
    assert "Traceback" not in worker.log()


async def test_a_run_a_stopping_worker_aborts_is_queued_again_and_finished_by_the_next_worker(
    client_for, background, as_, db, database_url
):
    import asyncio

    from services.jobs.worker import run
    from tests.support import fast_worker_settings

    c = client_for("registry")
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106")
    accepted = await background.post("/v1/screenings", json=SCREENING, headers=official)
    job_id = accepted.json()["job"]["id"]
    locker = await asyncpg.connect(plain_url(database_url))
    tr = locker.transaction()
    await tr.start()
    try:
        await locker.execute("LOCK TABLE registry.enterprises IN ACCESS EXCLUSIVE MODE")
        stop = asyncio.Event()
        first = asyncio.create_task(run(fast_worker_settings(shutdown_grace_s=0.5), stop))
        await wait_for(lambda: blocked_screening_statements(db), "the run to be reading", 90)
        stop.set()  # as SIGTERM does; the run cannot finish within the grace
        await asyncio.wait_for(first, 60)
        row = await job_row(db, job_id)
        assert (row["status"], row["attempt"]) == ("queued", 1)
        queued = await db.fetchval(
            "SELECT status::text FROM jobs.procrastinate_jobs WHERE id = $1", row["queue_job_id"]
        )
        assert queued == "todo"
    finally:
        await tr.rollback()
        await locker.close()
    stop = asyncio.Event()
    second = asyncio.create_task(run(fast_worker_settings(), stop))
    try:

        async def done():
            r = await job_row(db, job_id)
            return r if r["status"] in ("succeeded", "failed") else None

        row = await wait_for(done, "the next worker to finish it", 90)
    finally:
        stop.set()
        await asyncio.wait_for(second, 60)
    assert (row["status"], row["attempt"]) == ("succeeded", 2)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM registry.screening_results WHERE screening_id = $1", accepted.json()["id"]
        )
        == 5
    )
