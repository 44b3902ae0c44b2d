"""The daily title refresh as a periodic job of the worker (schedule `EAGLET_JOBS__TITLES_CRON`,
after midnight in Shanghai): what `eaglet refresh-titles` does by hand (cache.py)."""

from __future__ import annotations

import logging

from procrastinate import Blueprint, JobContext, RetryStrategy

from services.common.jobs import resources
from services.registry.titles.cache import refresh_stale

NAMESPACE = "registry.titles"
blueprint = Blueprint()
log = logging.getLogger("eaglet.titles")


@blueprint.task(name="refresh", pass_context=True, retry=RetryStrategy(max_attempts=3, exponential_wait=10))
async def refresh_titles(context: JobContext, timestamp: int) -> int:
    async with resources(context).db.acquire() as conn:
        refreshed = await refresh_stale(conn)
    log.info("refreshed %d enterprises' titles", refreshed)
    return refreshed
