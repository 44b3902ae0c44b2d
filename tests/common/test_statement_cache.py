"""EAGLET_DB__STATEMENT_CACHE_SIZE: 0 leaves no prepared statement behind on a connection (what
PgBouncer in transaction mode needs when it tracks none), on the engine and on the read pool."""

from sqlalchemy import text

from services.common.db import create_engine
from services.common.readpool import ReadPools
from services.common.settings import Settings

PREPARED = "SELECT count(*) FROM pg_prepared_statements"


def _settings(database_url: str, **db) -> Settings:
    s = Settings(database_url=database_url)
    return s.model_copy(update={"db": s.db.model_copy(update=db)})


async def _engine_leaves(settings: Settings) -> int:
    engine = create_engine(settings, "eaglet-test-cache")
    try:
        async with engine.connect() as conn:
            for _ in range(3):
                await conn.execute(text("SELECT 1 + :n"), {"n": 1})
            raw = (await conn.get_raw_connection()).driver_connection
            return await raw.fetchval(PREPARED)
    finally:
        await engine.dispose()


def test_the_default_is_unchanged():
    assert Settings().db.statement_cache_size == 100


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EAGLET_DB__STATEMENT_CACHE_SIZE", "0")
    assert Settings().db.statement_cache_size == 0


async def test_the_engine_keeps_prepared_statements_by_default(database_url):
    assert await _engine_leaves(_settings(database_url)) > 0


async def test_zero_leaves_no_prepared_statement_on_the_engine(database_url):
    assert await _engine_leaves(_settings(database_url, statement_cache_size=0)) == 0


async def test_zero_leaves_no_prepared_statement_on_the_read_pool(database_url):
    for size, expected_none in ((100, False), (0, True)):
        pools = ReadPools(_settings(database_url, statement_cache_size=size), "registry")
        try:
            pool = await pools.read_pool()
            async with pool.acquire() as conn:
                for _ in range(3):
                    await conn.fetchval("SELECT 1 + $1::int", 1)
                left = await conn.fetchval(PREPARED)
        finally:
            await pools.close()
        assert (left == 0) is expected_none, (size, left)
