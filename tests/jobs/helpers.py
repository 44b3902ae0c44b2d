"""Starting jobs and waiting for them in the tests of the job runner."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.common.auth import Principal
from services.common.jobs import enqueue

OFFICIAL = Principal(sub="official-a", kind="official", region="330106")


async def start_job(db: asyncpg.Connection, task_name: str, params: dict, kind: str = "test") -> int:
    """A job's status row and its queue entry, committed together (as a request does)."""
    async with db.transaction():
        return await enqueue(
            db, "registry", kind=kind, task_name=task_name, principal=OFFICIAL, params=params
        )


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 60) -> Any:
    """Poll `check` until it answers something true; that answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.1)


async def job_row(db: asyncpg.Connection, job_id: int) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM registry.jobs WHERE id = $1", job_id)


async def ended(db: asyncpg.Connection, job_id: int) -> asyncpg.Record | None:
    row = await job_row(db, job_id)
    return row if row["status"] in ("succeeded", "failed") else None


async def queue_ended(db: asyncpg.Connection, queue_job_id: int) -> asyncpg.Record:
    """procrastinate's own row once it has ended: the queue marks it after the task returns,
    a moment after the task's own last transaction ended the status row."""

    async def check() -> asyncpg.Record | None:
        row = await db.fetchrow(
            "SELECT status::text AS status, attempts FROM jobs.procrastinate_jobs WHERE id = $1", queue_job_id
        )
        return row if row is not None and row["status"] not in ("todo", "doing") else None

    return await wait_for(check, "the queue's job to end")
