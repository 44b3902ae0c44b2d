"""What is kept only as long as the change feed's horizon, removed by one periodic job
(`upkeep.retention`, schedule `EAGLET_JOBS__RETENTION_CRON`).

A step is `async def step(conn, settings, horizon) -> int`: it removes what it keeps from before
`horizon` (now − `EAGLET_EVENTS__RETENTION_DAYS`; a step with a lifetime of its own uses that
instead) on `conn` (asyncpg, autocommit: a step that must be atomic opens a transaction) and
answers how many rows it removed. Add a step by appending it to `RETENTION` with its name.
The change logs themselves are never removed (the audit trail is append-only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.webhooks.retention import purge_deliveries
from services.common.models import JOB_SCHEMAS
from services.common.settings import Settings
from services.common.submission_store import kept_owner, scratch_before, store_of
from services.common.submissions.models import ENDED
from services.common.submissions.receive import SERVICES_WITH_SUBMISSIONS
from services.registry.exports.repository import remove_expired_files

Step = Callable[[asyncpg.Connection, Settings, datetime], Awaitable[int]]


async def finished_jobs(conn: asyncpg.Connection, settings: Settings, horizon: datetime) -> int:
    """Status rows of jobs that ended before the horizon (`GET /v1/jobs/{id}` is then a 404)."""
    removed = 0
    for schema in JOB_SCHEMAS:
        status = await conn.execute(
            f"DELETE FROM {schema}.jobs WHERE status IN ('succeeded', 'failed') AND finished_at < $1", horizon
        )
        removed += int(status.split()[-1])
    return removed


async def export_files(conn: asyncpg.Connection, settings: Settings, horizon: datetime) -> int:
    """Files of asynchronous exports past their own expiry (`EAGLET_JOBS__EXPORT_RETENTION_H`)."""
    return await remove_expired_files(conn)


async def webhook_deliveries(conn: asyncpg.Connection, settings: Settings, horizon: datetime) -> int:
    """Webhook delivery logs (deliveries and their attempts) of events past the horizon."""
    return await purge_deliveries(conn, horizon)


async def submission_files(conn: asyncpg.Connection, settings: Settings, horizon: datetime) -> int:
    """Files of submissions that ended more than `EAGLET_SUBMISSIONS__RETENTION_DAYS` ago (their
    own lifetime, not the horizon), deleted from the store; the summary and findings stay.

    Each is stamped `file_removed_at` and deleted in one transaction, the stamp first: a retry
    (repository.py `retry`, which takes only a submission whose file is kept) and this step
    exclude each other on the row, and a delete that fails leaves the stamp undone for the next
    run. A file already gone is stamped all the same."""
    store = store_of(settings)
    days, ended = settings.submissions.retention_days, list(ENDED)
    removed = 0
    for schema in SERVICES_WITH_SUBMISSIONS:
        due = await conn.fetch(
            f"SELECT id FROM {schema}.submissions WHERE status = ANY($1::text[]) AND file_removed_at IS NULL "
            "AND finished_at < now() - make_interval(days => $2) ORDER BY id",
            ended,
            days,
        )
        for row in due:
            async with conn.transaction():
                file = await conn.fetchval(
                    f"UPDATE {schema}.submissions SET file_removed_at = now() WHERE id = $1 "
                    "AND status = ANY($2::text[]) AND file_removed_at IS NULL "
                    "AND finished_at < now() - make_interval(days => $3) RETURNING file",
                    row["id"],
                    ended,
                    days,
                )
                if file is not None and await store.delete(file):
                    removed += 1
    return removed


# A file the store keeps is named before its submission's row commits (routes' `submit`), so a
# young file may still be claimed; a scratch file is a live upload or download for minutes, never
# for a day (a 2 GiB upload at 10 MB/s takes under 4 minutes, a 1,000,000-line file's run 6).
UNCLAIMED_AFTER = timedelta(hours=1)
SCRATCH_AFTER = timedelta(days=1)


async def unclaimed_files(conn: asyncpg.Connection, settings: Settings, horizon: datetime) -> int:
    """Files no submission names: kept by a request whose transaction then failed to commit, or
    cut off by a stopped process between the file and the commit (kept older than
    `UNCLAIMED_AFTER`); and the scratch files of uploads and downloads a stopped process left
    (older than `SCRATCH_AFTER`). A file is claimed when its service's submissions name it."""
    store = store_of(settings)
    now = datetime.now(UTC)
    by_schema: dict[str, dict[int, str]] = {}
    for name in await store.kept_before(now - UNCLAIMED_AFTER):
        owner = kept_owner(name)
        # a name of ours, of a service with submissions (whose schema the query names); any
        # other file in the store is not ours to delete
        if owner is not None and owner[0] in SERVICES_WITH_SUBMISSIONS:
            by_schema.setdefault(owner[0], {})[owner[1]] = name
    removed = 0
    for schema, names in by_schema.items():
        rows = await conn.fetch(
            f"SELECT id, file FROM {schema}.submissions WHERE id = ANY($1::bigint[])", list(names)
        )
        claimed = {r["file"] for r in rows}
        for name in sorted(set(names.values()) - claimed):
            removed += await store.delete(name)
    for path in await scratch_before(settings.submissions_dir(), now - SCRATCH_AFTER):
        await asyncio.to_thread(path.unlink, missing_ok=True)
        removed += 1
    return removed


RETENTION: list[tuple[str, Step]] = [
    ("export files", export_files),
    ("finished jobs", finished_jobs),
    ("submission files", submission_files),
    ("unclaimed submission files", unclaimed_files),
    ("webhook deliveries", webhook_deliveries),
]
