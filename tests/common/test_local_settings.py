"""`local_settings`: server settings for a block inside the connection's transaction, then back to
what they were; a block that raises is seen with its own error, even when it aborted the
transaction (where the restore cannot run and is not needed)."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.db import local_settings

SETTINGS = {"enable_nestloop": "off", "plan_cache_mode": "force_custom_plan"}


async def now(db, name: str) -> str:
    return await db.fetchval("SELECT current_setting($1)", name)


async def test_the_settings_hold_in_the_block_and_are_restored_after(db):
    async with db.transaction():
        before = {n: await now(db, n) for n in SETTINGS}
        async with local_settings(db, SETTINGS):
            assert {n: await now(db, n) for n in SETTINGS} == SETTINGS
        assert {n: await now(db, n) for n in SETTINGS} == before
    assert await now(db, "enable_nestloop") == before["enable_nestloop"]


async def test_a_block_that_aborts_the_transaction_raises_its_own_error(db):
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with db.transaction():
            async with local_settings(db, SETTINGS):
                await db.execute("SELECT 1 / 0")
    assert await now(db, "enable_nestloop") == "on"  # rolled back with the transaction


async def test_a_block_that_raises_without_aborting_gets_its_settings_back(db):
    async with db.transaction():
        with pytest.raises(ValueError):
            async with local_settings(db, {"enable_nestloop": "off"}):
                raise ValueError("not a database error")
        assert await now(db, "enable_nestloop") == "on"
