"""Delivery logs are kept as long as the events they carry: the event horizon (30 days,
`EAGLET_EVENTS__RETENTION_DAYS`). Older deliveries go with their attempt logs, whatever their
state: a delivery still pending after the horizon belongs to an endpoint disabled for longer than
that, whose feed cursor has expired too (the subscriber catches up from the exports).

`purge_deliveries(conn, cutoff)` is a step of the worker's retention job
(services/jobs/retention.py, with the horizon); it deletes in batches so a large backlog never
holds long locks.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

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
