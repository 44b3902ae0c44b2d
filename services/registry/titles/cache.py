"""Upkeep of the active-title sets kept on enterprise rows (`db.py`: refresh_title_cache).

A row's set is trusted only through its `titles_until`; after that the list and the detail read
the titles themselves, which is correct but gives up the row's speed. The trigger on `titles`
refreshes rows whose titles are written; rows whose set simply ran out (a title expired or a
future one began, a revocation took effect) are refreshed here — daily after midnight in Shanghai
by the job worker (tasks.py, `EAGLET_JOBS__TITLES_CRON`), or by hand with `eaglet refresh-titles`.
"""

from __future__ import annotations

import asyncpg

from services.common.today import TODAY_SQL

REFRESH_STALE = f"""
WITH stale AS (
  SELECT ARRAY(SELECT credit_code FROM registry.enterprises WHERE titles_until < {TODAY_SQL}) AS codes
)
SELECT cardinality(codes) FROM stale, LATERAL registry.refresh_title_cache(codes)
"""


async def refresh_stale(conn: asyncpg.Connection) -> int:
    """Recompute every row whose set has run out; returns how many."""
    return await conn.fetchval(REFRESH_STALE)
