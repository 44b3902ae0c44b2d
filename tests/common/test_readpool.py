"""The read pool (services/common/readpool.py): one caller's statements never hold more than
their share of it, and a statement past the read timeout is a 422 problem, not a 500."""

import asyncio
from types import SimpleNamespace

import pytest

from services.common import readpool
from services.common.auth import Principal
from services.common.errors import Problem
from services.common.settings import DatabaseSettings, get_settings


@pytest.fixture
async def small_pool(database_url):
    """An app-like holder of a read pool of 3 connections, at most 2 per caller."""
    settings = get_settings().model_copy(
        update={"db": DatabaseSettings(read_pool_size=3, read_pool_per_caller=2)}
    )
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, service="test"))
    yield app
    await readpool.close_read_pool(app)


async def test_one_caller_holds_at_most_its_share_while_others_are_served(small_pool):
    slow = [
        asyncio.create_task(readpool.pools_of(small_pool).fetch("SELECT pg_sleep(1.5)", caller="official:a"))
        for _ in range(4)
    ]
    await asyncio.sleep(0.2)  # the slow statements have taken what they may
    rows = await asyncio.wait_for(readpool.pools_of(small_pool).fetch("SELECT 1 AS one", caller="bank:b"), 10)
    assert rows[0]["one"] == 1
    assert not any(t.done() for t in slow), "the other caller waited for the slow caller's statements"
    await asyncio.gather(*slow)


async def test_a_callers_turns_are_freed_for_the_next_statement(small_pool):
    for _ in range(5):  # more statements than the share, one after another
        assert (await readpool.pools_of(small_pool).fetch("SELECT 2 AS two", caller="official:a"))[0][
            "two"
        ] == 2
    async with readpool.pools_of(small_pool).connection(caller="official:a") as conn:
        assert await conn.fetchval("SELECT 3") == 3


def test_callers_are_the_tenant_not_the_key():
    """Two API clients of one bank share the bank's share; officials are counted one by one."""
    one = Principal(sub="client-1", kind="bank", org="B001")
    two = Principal(sub="client-2", kind="bank", org="B001")
    assert readpool.caller_key(one) == readpool.caller_key(two)
    assert readpool.caller_key(Principal(sub="li", kind="official", region="330106")) != readpool.caller_key(
        Principal(sub="wang", kind="official", region="330106")
    )


async def test_a_statement_past_the_read_timeout_is_a_422_query_too_broad(database_url):
    settings = get_settings().model_copy(update={"db": DatabaseSettings(read_statement_timeout_ms=100)})
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, service="test"))
    try:
        with pytest.raises(Problem) as raised:
            await readpool.pools_of(app).fetch("SELECT pg_sleep(2)", caller="official:a")
        assert raised.value.status == 422 and raised.value.code == "query_too_broad"
        assert int(raised.value.headers["Retry-After"]) >= 1
        with pytest.raises(Problem) as raised:
            async with readpool.pools_of(app).connection() as conn:
                await conn.fetch("SELECT pg_sleep(2)")
        assert raised.value.code == "query_too_broad"
        # The connection is usable again afterwards.
        assert (await readpool.pools_of(app).fetch("SELECT 4 AS four"))[0]["four"] == 4
    finally:
        await readpool.close_read_pool(app)
