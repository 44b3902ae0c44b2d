"""Coalescer: lookups in flight together share one load; each caller gets its own answer."""

import asyncio

import pytest

from services.common.coalesce import Coalescer


class Loads:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    async def __call__(self, keys: list[str]) -> dict[str, str]:
        self.calls.append(sorted(keys))
        await asyncio.sleep(0)
        if self.fail:
            raise self.fail
        return {k: k.upper() for k in keys if k != "unknown"}


async def test_lookups_in_the_same_turn_share_one_load():
    loads = Loads()
    c = Coalescer(loads, missing=None)
    got = await asyncio.gather(c.get("a"), c.get("b"), c.get("a"), c.get("unknown"))
    assert got == ["A", "B", "A", None]
    assert loads.calls == [["a", "b", "unknown"]]  # one load, each key once


async def test_an_idle_caller_is_answered_by_its_own_load():
    loads = Loads()
    c = Coalescer(loads, missing=None)
    assert await c.get("a") == "A"
    assert await c.get("b") == "B"
    assert loads.calls == [["a"], ["b"]]


async def test_lookups_arriving_during_a_load_form_the_next_one():
    loads = Loads()
    c = Coalescer(loads, missing=None)
    first = asyncio.ensure_future(c.get("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first load is in flight now
    assert await asyncio.gather(first, c.get("b"), c.get("c")) == ["A", "B", "C"]
    assert loads.calls == [["a"], ["b", "c"]]


async def test_a_failed_load_fails_every_waiter_and_the_next_load_runs_afresh():
    loads = Loads(fail=ConnectionError("database went away"))
    c = Coalescer(loads, missing=None)
    results = await asyncio.gather(c.get("a"), c.get("b"), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    loads.fail = None
    assert await c.get("a") == "A"


async def test_a_caller_that_goes_away_does_not_disturb_the_others():
    loads = Loads()
    c = Coalescer(loads, missing=None)
    leaving = asyncio.ensure_future(c.get("a"))
    staying = asyncio.ensure_future(c.get("b"))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == "B"
    with pytest.raises(asyncio.CancelledError):
        await leaving
