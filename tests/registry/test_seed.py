"""The demo seed covers every city and is deterministic; the generator loads by COPY."""

from services.registry.seed import generate, seed_demo


async def test_demo_seed_is_deterministic_and_covers_all_cities(db):
    await seed_demo(db)
    first = await db.fetch(
        "SELECT credit_code, name, size_class, tier FROM registry.enterprise_directory ORDER BY 1"
    )
    cities = await db.fetchval("SELECT count(DISTINCT substr(region_code, 1, 4)) FROM registry.enterprises")
    assert cities == 11 and len(first) >= 300
    assert await db.fetchval("SELECT count(*) FROM registry.indicators WHERE year = 2022") == len(first)
    assert await db.fetchval("SELECT count(*) FROM registry.parks") == 22
    assert await db.fetchval("SELECT count(DISTINCT tier) FROM registry.enterprises") == 4
    await seed_demo(db)  # a second run changes nothing
    await db.execute("TRUNCATE registry.enterprises, registry.parks CASCADE")
    await seed_demo(db)
    again = await db.fetch(
        "SELECT credit_code, name, size_class, tier FROM registry.enterprise_directory ORDER BY 1"
    )
    assert [tuple(r) for r in again] == [tuple(r) for r in first]


async def test_generator_loads_enterprises_with_indicators(db):
    await generate(db, 1200, chunk=500)
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 1200
    assert await db.fetchval("SELECT count(*) FROM registry.indicators") == 2400
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises WHERE size_class IS NULL") == 0
    await generate(db, 100)
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 1300


async def test_generated_rows_are_consistent_and_triggers_come_back_on(db):
    from services.common.credit_code import check_credit_code
    from services.registry.reference.sizing import classify

    await generate(db, 3000, chunk=1000)
    codes = [r["credit_code"] for r in await db.fetch("SELECT credit_code FROM registry.enterprises")]
    assert len(set(codes)) == 3000 and all(check_credit_code(c).valid for c in codes)
    # The derived columns written with the rows equal what the fact tables say.
    assert not await db.fetch(
        """SELECT e.credit_code FROM registry.enterprises e
           LEFT JOIN registry.indicators i ON i.credit_code = e.credit_code AND i.year = 2022
           LEFT JOIN registry.scale_statuses s ON s.credit_code = e.credit_code
           LEFT JOIN registry.pool_decisions d ON d.credit_code = e.credit_code
           WHERE (e.size_class, e.size_year) IS DISTINCT FROM (i.size_class, i.year)
              OR (e.scale_status, e.scale_year) IS DISTINCT FROM (s.status, s.effective_year)
              OR (e.tier, e.tier_year) IS DISTINCT FROM (d.tier, d.year)"""
    )
    # The size classes in SQL agree with the Python size table.
    for r in await db.fetch(
        "SELECT i.*, e.industry_code FROM registry.indicators i JOIN registry.enterprises e USING (credit_code) "
        "ORDER BY credit_code, year LIMIT 400"
    ):
        figures = {k: r[k] for k in ("employees", "revenue", "total_assets")}
        assert classify(r["industry_code"], figures).size == r["size_class"]
    sizes = {r["size_class"] for r in await db.fetch("SELECT DISTINCT size_class FROM registry.indicators")}
    assert sizes == {"micro", "small", "medium", "large"}
    # The derived-column triggers are on again after the load.
    await db.execute(
        "INSERT INTO registry.indicators (credit_code, year, employees, size_class) VALUES ($1, 2023, 1, 'micro')",
        codes[0],
    )
    assert (
        await db.fetchval("SELECT size_year FROM registry.enterprises WHERE credit_code = $1", codes[0])
        == 2023
    )
