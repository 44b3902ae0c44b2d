"""What is kept only as long as the change feed's horizon, removed by one periodic job
(`upkeep.retention`, schedule `EAGLET_JOBS__RETENTION_CRON`).

A step is `async def step(conn, settings, horizon) -> int`: it removes what it keeps from before
`horizon` (now − `EAGLET_EVENTS__RETENTION_DAYS`; a step with a lifetime of its own uses that
instead) on `conn` (asyncpg, autocommit: a step that must be atomic opens a transaction) and
answers how many rows it removed. Add a step by appending it to `RETENTION` with its name.
The change logs themselves are never removed (the audit trail is append-only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from gateway.webhooks.retention import purge_deliveries
from services.common.models import JOB_SCHEMAS
from services.common.settings import Settings
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


RETENTION: list[tuple[str, Step]] = [
    ("export files", export_files),
    ("finished jobs", finished_jobs),
    ("webhook deliveries", webhook_deliveries),
]
