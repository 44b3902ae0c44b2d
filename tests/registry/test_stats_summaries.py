"""The per-(region, year) statistics summaries (migration 0007) stay equal to a computation from the
facts after any mix of writes, and statistics read from them equal the direct computation."""

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.common.db import async_url
from services.common.scope import RegionScope
from services.registry.stats import repository as stats_repo
from tests.registry.test_stats import arrange
from tests.registry_data import add_enterprise

SUMMARY = "SELECT * FROM registry.region_year_summaries ORDER BY region_code, year"
COMPUTED = "SELECT * FROM registry.computed_summaries() ORDER BY region_code, year"
NONZERO = (
    "above_delta <> 0 OR scale_entries <> 0 OR scale_exits <> 0 OR on_cloud <> 0 OR seedling <> 0 "
    "OR specialized <> 0 OR champion_candidate <> 0 OR champion <> 0"
)


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def summaries(db) -> list[dict]:
    rows = await db.fetch(f"SELECT * FROM registry.region_year_summaries WHERE {NONZERO} ORDER BY 1, 2")
    return [dict(r) for r in rows]


async def computed(db) -> list[dict]:
    return [dict(r) for r in await db.fetch(COMPUTED)]


async def mixed_writes(c, as_, db, hz1, hz2, nb1, nb2) -> None:
    admin = as_()
    # Through the API: a scale fact, a promotion, an exit, indicators, a region move.
    r = await c.post(
        f"/v1/enterprises/{hz2}/scale-status",
        json={"status": "below", "effective_year": 2021, "source": "t"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    for code, tier, decision in ((nb1, "specialized", "admit"), (hz2, "champion", "exit")):
        r = await c.post(
            "/v1/pool/decisions",
            json={"credit_code": code, "tier": tier, "year": 2022, "decision": decision, "reason": "t"},
            headers=admin,
        )
        assert r.status_code in (200, 201), r.text
    r = await c.put(
        f"/v1/enterprises/{nb2}/indicators/2021", json={"employees": 30, "on_cloud": True}, headers=admin
    )
    assert r.status_code in (200, 201), r.text
    r = await c.patch(f"/v1/enterprises/{hz1}", json={"region_code": "330212"}, headers=admin)
    assert r.status_code == 200, r.text
    # Straight SQL: multi-row inserts, updates that move facts in time, deletes, an enterprise delete.
    extra = [await add_enterprise(db, region_code=rc, scale=[("above", 2021)]) for rc in ("330106", "330382")]
    await db.execute(
        "INSERT INTO registry.scale_statuses (credit_code, status, effective_year) "
        "SELECT unnest($1::text[]), 'below', 2022",
        extra,
    )
    await db.execute(
        "UPDATE registry.scale_statuses SET effective_year = effective_year - 1 WHERE credit_code = $1", nb1
    )
    await db.execute("UPDATE registry.indicators SET on_cloud = NOT on_cloud WHERE year = 2022")
    await db.execute("DELETE FROM registry.pool_decisions WHERE credit_code = $1 AND tier = 'seedling'", hz1)
    await db.execute(
        "UPDATE registry.pool_decisions SET year = 2021 WHERE credit_code = $1 AND decision = 'admit'", nb1
    )
    await db.execute("DELETE FROM registry.scale_statuses WHERE credit_code = $1", nb2)
    await db.execute("DELETE FROM registry.enterprises WHERE credit_code = $1", extra[1])
    await db.execute(
        "UPDATE registry.enterprises SET region_code = '330110' WHERE credit_code = $1", extra[0]
    )


async def test_summaries_equal_a_direct_computation_after_mixed_writes(c, as_, db):
    codes = await arrange(db)
    assert await summaries(db) == await computed(db) != []
    await mixed_writes(c, as_, db, *codes)
    assert await summaries(db) == await computed(db)
    # A rebuild from scratch gives the same rows (zero rows aside).
    before = await summaries(db)
    await db.execute("SELECT registry.rebuild_summaries()")
    assert await summaries(db) == before == [dict(r) for r in await db.fetch(SUMMARY)]


@pytest.mark.parametrize("group_by", [None, "city", "county"])
async def test_statistics_from_summaries_equal_the_direct_statements(c, as_, db, database_url, group_by):
    await mixed_writes(c, as_, db, *(await arrange(db)))
    engine = create_async_engine(async_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            for year, baseline in ((2022, 2021), (2022, 2020), (2021, 2020), (2023, 2022)):
                for region in (None, "33", "3302", "330212"):
                    args = (session, RegionScope(region), year, baseline, date(year, 12, 31), group_by)
                    fast = await stats_repo.figures(*args)
                    slow = await stats_repo.figures(*args, stats_repo.DIRECT)
                    drop_zero = lambda g: {k: {f: v for f, v in d.items() if v} for k, d in g.items()}  # noqa: E731
                    assert {k: v for k, v in drop_zero(fast).items() if v} == {
                        k: v for k, v in drop_zero(slow).items() if v
                    }, (year, baseline, region)
    finally:
        await engine.dispose()
