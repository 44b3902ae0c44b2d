"""A submission's lifecycle past the happy path: the worker's heartbeat, a stalled submission
expired by the sweep with its reason, `POST …/retry` resuming it after its committed chunks
(never a line written twice), and what may not be retried."""

from __future__ import annotations

import asyncpg
import pytest
from pydantic import ValidationError

from services.common.db import plain_url
from services.common.settings import SubmissionsSettings, get_settings
from services.common.submissions.sweep import expire_stalled
from services.finance import submissions as finance
from tests.common.test_submissions_kit import completed_events, csv_of, submit, worker_settings
from tests.finance.helpers import loan

FIELDS = finance.SUBMISSIONS.kind("loans").fields


class Stop(Exception):
    pass


async def stop_after_first(index: int) -> None:
    if index == 0:
        raise Stop


async def sweep() -> dict[str, int]:
    """The periodic job's work, as the worker's role does it."""
    conn = await asyncpg.connect(plain_url(worker_settings().database_url))
    try:
        return await expire_stalled(conn, worker_settings())
    finally:
        await conn.close()


async def half_done(c, bank, db) -> dict:
    """A five-loan submission whose run stopped after its first chunk (two lines)."""
    sub = (await submit(c, bank, "loans", csv_of(FIELDS, [loan() for _ in range(5)]))).json()
    await db.execute("UPDATE finance.submissions SET chunk_rows = 2 WHERE id = $1", sub["id"])
    with pytest.raises(Stop):
        await finance.process(worker_settings(), sub["id"], after_chunk=stop_after_first)
    return sub


async def test_the_worker_stamps_its_heartbeat_on_take_and_after_each_chunk(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="LB01")
    sub = await half_done(c, bank, db)
    row = await db.fetchrow(
        "SELECT status, heartbeat_at, updated_at FROM finance.submissions WHERE id = $1", sub["id"]
    )
    assert row["status"] == "validating" and row["heartbeat_at"] is not None
    await db.execute(
        "UPDATE finance.submissions SET heartbeat_at = now() - interval '1 hour' WHERE id = $1", sub["id"]
    )
    assert await sweep() == {"finance": 1, "standards": 0, "registry": 0}
    # a run still alive beats again between chunks: it is not expired while it does
    other = await half_done(c, bank, db)
    assert await sweep() == {"finance": 0, "standards": 0, "registry": 0}
    assert (
        await db.fetchval("SELECT status FROM finance.submissions WHERE id = $1", other["id"]) == "validating"
    )


async def test_a_stalled_submission_expires_with_its_reason_and_a_retry_resumes_it_without_duplicates(
    client_for, as_, db
):
    c, bank = client_for("finance"), as_("bank", org="LB02")
    sub = await half_done(c, bank, db)
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'LB02'") == 2
    await db.execute(
        "UPDATE finance.submissions SET heartbeat_at = now() - make_interval(secs => $2 + 1) WHERE id = $1",
        sub["id"],
        get_settings().submissions.stall_s,
    )
    await sweep()
    expired = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert expired["status"] == "expired" and expired["finished_at"] is not None
    assert expired["error"]["code"] == "submission_expired"
    assert "the worker validating it stopped" in expired["error"]["detail"]
    assert f"POST /finance/v1/submissions/{sub['id']}/retry" in expired["error"]["detail"]
    assert expired["links"]["retry"] == f"/finance/v1/submissions/{sub['id']}/retry"
    (event,) = await completed_events(c, bank)  # its end is an event too
    assert event["data"]["status"] == "expired" and event["data"]["counts"]["created"] == 2

    # the lost run's job, run again, takes nothing: only a retry resumes an expired submission
    await finance.process(worker_settings(), sub["id"])
    assert await db.fetchval("SELECT status FROM finance.submissions WHERE id = $1", sub["id"]) == "expired"

    jobs = "SELECT count(*) FROM jobs.procrastinate_jobs WHERE args->>'submission_id' = $1"
    before = await db.fetchval(jobs, str(sub["id"]))
    r = await c.post(f"/v1/submissions/{sub['id']}/retry", headers=bank)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "received" and r.json()["error"] is None
    assert r.json()["rows_done"] == 2  # the committed chunk stays committed
    assert await db.fetchval(jobs, str(sub["id"])) == before + 1  # deferred again

    await finance.process(worker_settings(), sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed" and done["rows_done"] == 5
    assert [e["data"]["status"] for e in await completed_events(c, bank)] == ["expired", "completed"]
    assert done["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'LB02'") == 5
    assert (
        await db.fetchval(
            "SELECT count(*) FROM finance.changes WHERE entity_type = 'loan' AND entity_key LIKE 'LB02%'"
        )
        == 5
    )


async def test_a_submission_no_worker_took_expires_too(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="LB03")
    sub = (await submit(c, bank, "loans", csv_of(FIELDS, [loan()]))).json()
    assert await sweep() == {"finance": 0, "standards": 0, "registry": 0}  # just received
    await db.execute(
        "UPDATE finance.submissions SET updated_at = now() - interval '1 day' WHERE id = $1", sub["id"]
    )
    await sweep()
    expired = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert expired["status"] == "expired" and "no worker took it" in expired["error"]["detail"]
    assert (await c.post(f"/v1/submissions/{sub['id']}/retry", headers=bank)).status_code == 202
    await finance.process(worker_settings(), sub["id"])
    assert (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()["status"] == "completed"


async def test_only_an_expired_or_worker_failed_submission_is_retried(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="LB04")
    sub = (await submit(c, bank, "loans", csv_of(FIELDS, [loan()]))).json()
    r = await c.post(f"/v1/submissions/{sub['id']}/retry", headers=bank)  # received: in progress
    assert r.status_code == 409 and r.json()["code"] == "submission_not_retryable"
    await finance.process(worker_settings(), sub["id"])
    r = await c.post(f"/v1/submissions/{sub['id']}/retry", headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "submission_not_retryable"
    assert "completed" in r.json()["detail"]

    unreadable = (await submit(c, bank, "loans", b"loan_ref\r\n\xff\xfe\r\n")).json()
    await finance.process(worker_settings(), unreadable["id"])
    r = await c.post(f"/v1/submissions/{unreadable['id']}/retry", headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "submission_file_unreadable"

    # failed by the job (its last run raised: tasks.py), it is retried and completes
    failed = (await submit(c, bank, "loans", csv_of(FIELDS, [loan(), loan()]))).json()
    await db.execute(
        "UPDATE finance.submissions SET status = 'failed', error = '{\"code\": \"job_failed\"}' WHERE id = $1",
        failed["id"],
    )
    r = await c.post(f"/v1/submissions/{failed['id']}/retry", headers=bank)
    assert r.status_code == 202, r.text
    await finance.process(worker_settings(), failed["id"])
    done = (await c.get(f"/v1/submissions/{failed['id']}", headers=bank)).json()
    assert done["status"] == "completed" and done["counts"]["created"] == 2


async def test_a_long_chunk_beats_from_beside_it(client_for, as_, db):
    """While a chunk runs, a small task stamps the heartbeat every HEARTBEAT_S (here 10 ms)."""
    import asyncio

    from services.common.db import create_engine, create_sessionmaker
    from services.common.submissions import service

    c, bank = client_for("finance"), as_("bank", org="LB05")
    sub = await half_done(c, bank, db)
    await db.execute(
        "UPDATE finance.submissions SET heartbeat_at = now() - interval '1 hour' WHERE id = $1", sub["id"]
    )
    stale = await db.fetchval("SELECT heartbeat_at FROM finance.submissions WHERE id = $1", sub["id"])
    engine = create_engine(worker_settings(), "eaglet-worker-submissions")
    try:
        async with service._beating(create_sessionmaker(engine), "finance", sub["id"], 0.01):
            for _ in range(400):  # the chunk "runs" until a beat lands
                beat = await db.fetchval(
                    "SELECT heartbeat_at FROM finance.submissions WHERE id = $1", sub["id"]
                )
                if beat > stale:
                    break
                await asyncio.sleep(0.025)
        assert beat > stale
    finally:
        await engine.dispose()


async def test_a_file_longer_than_a_json_batch_is_written_in_one_chunk_of_the_setting(client_for, as_, db):
    """A chunk is not bounded by the JSON batch (5,000 records a request, which stays so): a file
    of 5,001 lines is one chunk of the default 20,000, and every line is stored."""
    c, bank = client_for("finance"), as_("bank", org="LB09")
    records = [loan() for _ in range(5001)]
    assert (await c.post("/v1/loans/batch", json={"records": records}, headers=bank)).status_code == 422
    sub = (await submit(c, bank, "loans", csv_of(FIELDS, records))).json()
    assert await db.fetchval("SELECT chunk_rows FROM finance.submissions WHERE id = $1", sub["id"]) == 20_000
    await finance.process(worker_settings(), sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert (done["status"], done["counts"]["created"], done["rows_done"]) == ("completed", 5001, 5001)
    assert await db.fetchval("SELECT chunks_done FROM finance.submissions WHERE id = $1", sub["id"]) == 1
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'LB09'") == 5001


def test_the_chunk_setting_is_bounded_at_50000_lines():
    assert SubmissionsSettings(chunk_rows=50_000).chunk_rows == 50_000
    for bad in (0, 50_001):
        with pytest.raises(ValidationError):
            SubmissionsSettings(chunk_rows=bad)
