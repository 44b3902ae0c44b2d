"""The periodic jobs run in a real worker (`eaglet worker`, every schedule at every second): the
title refresh renews the sets that ran out, expired Idempotency-Keys go from every schema,
retention removes finished jobs and expired export files past their time — and keeps the rest."""

from __future__ import annotations

from services.common.models import SCHEMAS
from services.common.today import TODAY_SQL
from tests.jobs.helpers import wait_for
from tests.registry_data import add_enterprise
from tests.support import start_worker

EVERY_SECOND = "* * * * * *"


async def test_periodic_jobs_run_in_the_worker(db):
    # titles: one enterprise's cached set ran out yesterday
    stale = await add_enterprise(db, titles=["tech_sme"])
    await db.execute(
        f"UPDATE registry.enterprises SET active_titles = '{{}}', titles_until = {TODAY_SQL} - 1 "
        "WHERE credit_code = $1",
        stale,
    )
    # Idempotency-Keys: one past the 48 h retention and one within it, in every schema
    for schema in SCHEMAS:
        await db.execute(
            f"INSERT INTO {schema}.idempotency_keys (owner, key, request_hash, state, created_at) VALUES "
            "('o', 'old', 'h', 'done', now() - interval '49 hours'), "
            "('o', 'new', 'h', 'done', now() - interval '47 hours')"
        )
    # retention: finished jobs, one older than the 30-day horizon; an export whose file expired
    old, recent, expired = [
        await db.fetchval(
            "INSERT INTO registry.jobs (kind, status, owner_kind, owner_sub, params, finished_at) "
            "VALUES ('export', 'succeeded', 'official', 'someone', '{}', now() - make_interval(days => $1)) "
            "RETURNING id",
            days,
        )
        for days in (31, 29, 1)
    ]
    await db.execute(
        "INSERT INTO registry.export_files (job_id, filename, content_type, size, rows, chunks, expires_at) "
        "VALUES ($1, 'a.csv', 'text/csv', 1, 1, 1, now() - interval '1 minute'), "
        "($2, 'b.csv', 'text/csv', 1, 1, 1, now() + interval '1 hour')",
        expired,
        recent,
    )
    await db.execute("INSERT INTO registry.export_chunks VALUES ($1, 0, 'x'), ($2, 0, 'y')", expired, recent)
    # and the queue's own: a job that succeeded 40 days ago
    queue_old = await db.fetchval(
        "INSERT INTO jobs.procrastinate_jobs (queue_name, task_name, status) "
        "VALUES ('default', 'gone', 'succeeded') RETURNING id"
    )
    await db.execute(
        "INSERT INTO jobs.procrastinate_events (job_id, type, at) VALUES ($1, 'succeeded', now() - interval '40 days')",
        queue_old,
    )

    worker = start_worker(
        {
            "EAGLET_JOBS__TITLES_CRON": EVERY_SECOND,
            "EAGLET_JOBS__IDEMPOTENCY_CRON": EVERY_SECOND,
            "EAGLET_JOBS__RETENTION_CRON": EVERY_SECOND,
        },
        name="periodic",
    )
    try:

        async def titles_refreshed():
            return await db.fetchval(
                f"SELECT titles_until >= {TODAY_SQL} AND active_titles = '{{tech_sme}}' "
                "FROM registry.enterprises WHERE credit_code = $1",
                stale,
            )

        async def keys_purged():
            counts = [
                await db.fetchval(f"SELECT count(*) FROM {s}.idempotency_keys WHERE key = 'old'")
                for s in SCHEMAS
            ]
            return not any(counts)

        async def retention_done():
            gone = not await db.fetchval("SELECT count(*) FROM registry.jobs WHERE id = $1", old)
            file_gone = not await db.fetchval(
                "SELECT count(*) FROM registry.export_files WHERE job_id = $1", expired
            )
            queue_gone = not await db.fetchval(
                "SELECT count(*) FROM jobs.procrastinate_jobs WHERE id = $1", queue_old
            )
            return gone and file_gone and queue_gone

        await wait_for(titles_refreshed, "the title refresh", 90)
        await wait_for(keys_purged, "the Idempotency-Key purge", 90)
        await wait_for(retention_done, "retention", 90)
    finally:
        assert worker.stop() == 0, worker.log()

    for schema in SCHEMAS:  # kept: within their retention
        assert await db.fetchval(f"SELECT count(*) FROM {schema}.idempotency_keys WHERE key = 'new'") == 1
    assert {r["id"] for r in await db.fetch("SELECT id FROM registry.jobs")} == {recent, expired}
    assert await db.fetchval("SELECT count(*) FROM registry.export_chunks WHERE job_id = $1", expired) == 0
    assert await db.fetchval("SELECT count(*) FROM registry.export_chunks WHERE job_id = $1", recent) == 1
    # each ran as a periodic job of the queue
    ran = {
        r["task_name"]
        for r in await db.fetch("SELECT task_name FROM jobs.procrastinate_jobs WHERE status = 'succeeded'")
    }
    assert {"registry.titles:refresh", "upkeep:idempotency_keys", "upkeep:retention"} <= ran
