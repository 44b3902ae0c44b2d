"""Submissions the worker left behind, marked `expired` with the reason (the periodic job
`upkeep.submissions`, schedule `EAGLET_JOBS__SUBMISSIONS_CRON`).

A `validating` submission whose heartbeat (service.py: on take, after each chunk, every
`EAGLET_SUBMISSIONS__HEARTBEAT_S` during one) is older than `EAGLET_SUBMISSIONS__STALL_S` has lost
its worker; a `received` one never taken for as long has none. Either is `expired`, its `error` a
problem saying since when and that `POST …/submissions/{id}/retry` resumes it (after its
committed chunks). A run of the lost worker that lives on writes nothing more: a chunk commits
only while its submission is `validating` (repository.py `commit_chunk`), and a take refuses an
expired submission.
"""

from __future__ import annotations

import asyncpg

from services.common.settings import Settings
from services.common.submissions import repository
from services.common.submissions.receive import SERVICES_WITH_SUBMISSIONS, SubmissionExpired
from services.common.submissions.schemas import href

WHY = {
    "validating": "the worker validating it stopped",
    "received": "no worker took it",
}


async def expire_stalled(conn: asyncpg.Connection, settings: Settings) -> dict[str, int]:
    """Expire every service's stalled submissions; how many, by service."""
    expired: dict[str, int] = {}
    for schema in SERVICES_WITH_SUBMISSIONS:
        expired[schema] = 0
        for row in await repository.stalled(conn, schema, settings.submissions.stall_s):
            problem = SubmissionExpired.body(
                since=row["since"].isoformat(timespec="seconds"),
                why=WHY[row["status"]],
                retry=href(schema, row["id"], "/retry"),
            )
            if await repository.expire(conn, schema, row["id"], row["since"], problem):
                expired[schema] += 1
    return expired
