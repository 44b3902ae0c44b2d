"""The periodic job that keeps the ledgers' month partitions ahead of the dates posted
(services/finance/ledgers.py): every day it creates the partitions of this month and the next
`EAGLET_JOBS__LEDGER_MONTHS_AHEAD` months of every ledger, and splits off the DEFAULT partition any
month up to then whose rows it holds. It does nothing when they exist: running it twice, or on
two workers, creates nothing more. Its schedule is `EAGLET_JOBS__LEDGER_PARTITIONS_CRON`."""

from __future__ import annotations

import logging
from datetime import date

import asyncpg
from procrastinate import Blueprint, JobContext

from services.common.jobs import resources
from services.common.today import today_shanghai

NAMESPACE = "finance.ledger"
blueprint = Blueprint()
log = logging.getLogger("eaglet.jobs.ledger")


def months_after(month: date, months: int) -> date:
    """The first day of the month `months` after the month of `month`."""
    n = month.year * 12 + month.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


async def create_ahead(conn: asyncpg.Connection, today: date, months_ahead: int) -> int:
    """Create the partitions from today's month to `months_ahead` months after it (and split the
    DEFAULT partition up to then); how many were created."""
    first = today.replace(day=1)
    return await conn.fetchval(
        "SELECT finance.ledger_partitions($1, $2)", first, months_after(first, months_ahead)
    )


@blueprint.task(name="partitions", pass_context=True)
async def ledger_partitions(context: JobContext, timestamp: int) -> int:
    res = resources(context)
    async with res.db.acquire() as conn:
        created = await create_ahead(conn, today_shanghai(), res.settings.jobs.ledger_months_ahead)
    log.info("ledger partitions created: %d", created)
    return created
