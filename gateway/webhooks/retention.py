"""Delivery logs are kept as long as the events they carry: the event horizon (30 days,
`EAGLET_WEBHOOKS__RETENTION_DAYS`). Older deliveries go with their attempt logs, whatever their
state: a delivery still pending after the horizon belongs to an endpoint disabled for longer than
that, whose feed cursor has expired too (the subscriber catches up from the exports).

`purge_old_deliveries(settings)` is what the periodic job runs (daily is plenty); it deletes in
batches so a large backlog never holds long locks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from services.common.db import plain_url
from services.common.settings import Settings

BATCH = 5_000

_PURGE = """
DELETE FROM gateway.webhook_deliveries
WHERE id IN (SELECT id FROM gateway.webhook_deliveries WHERE created_at < $1 LIMIT $2)
"""


async def purge_deliveries(conn: asyncpg.Connection, cutoff: datetime, batch: int = BATCH) -> int:
    """Delete every delivery created before `cutoff` (and its attempts); how many went."""
    total = 0
    while True:
        status = await conn.execute(_PURGE, cutoff, batch)
        n = int(status.split()[-1])
        total += n
        if n < batch:
            return total


async def purge_old_deliveries(settings: Settings, now: datetime | None = None) -> int:
    """The periodic job: delivery logs older than the event horizon."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.webhooks.retention_days)
    conn = await asyncpg.connect(plain_url(settings.database_url or ""))
    try:
        return await purge_deliveries(conn, cutoff)
    finally:
        await conn.close()
