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
