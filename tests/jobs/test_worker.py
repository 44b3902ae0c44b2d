"""The worker runs every loop of LOOPS beside procrastinate's worker until it is stopped; a loop
that ends on its own stops the worker with an error (a restart policy brings both back)."""

from __future__ import annotations

import asyncio

import pytest

from services.jobs import loops
from services.jobs.worker import run
from tests.jobs.helpers import wait_for
from tests.support import fast_worker_settings


async def test_every_loop_runs_until_the_worker_is_stopped(db, monkeypatch):
    seen: list[str] = []

    async def loop(settings, stop: asyncio.Event) -> None:
        seen.append("started")
        await stop.wait()
        seen.append("stopped")

    monkeypatch.setattr(loops, "LOOPS", [loop])
    stop = asyncio.Event()
    worker = asyncio.create_task(run(fast_worker_settings(), stop))
    await wait_for(lambda: asyncio.sleep(0, seen == ["started"]), "the loop to start")
    await wait_for(lambda: db.fetchval("SELECT count(*) FROM jobs.procrastinate_workers"), "the worker")
    stop.set()
    await asyncio.wait_for(worker, 30)
    assert seen == ["started", "stopped"]
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_workers") == 0


async def test_a_loop_that_fails_stops_the_worker_with_its_error(db, monkeypatch):
    async def broken(settings, stop: asyncio.Event) -> None:
        await asyncio.sleep(0.2)
        raise ValueError("the receiver's table is missing")

    monkeypatch.setattr(loops, "LOOPS", [broken])
    with pytest.raises(RuntimeError, match="receiver's table is missing"):
        await asyncio.wait_for(run(fast_worker_settings(), asyncio.Event()), 30)
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_workers") == 0
