"""The views other services read (docs/contracts.md), arranged with tests/registry_data.py."""

from services.common.credit_code import check_credit_code
from tests.registry_data import add_enterprise


async def test_directory_shows_latest_size_scale_tier_and_active_titles(db):
    code = await add_enterprise(
        db,
        region_code="330212",
        industry_code="3311",
        sizes={2021: "micro", 2022: "small"},
        scale=[("below", 2020), ("above", 2022)],
        tier="seedling",
        titles=["tech_sme", "high_tech"],
    )
    assert check_credit_code(code).valid and code[2:8] == "330212"
    row = await db.fetchrow("SELECT * FROM registry.enterprise_directory WHERE credit_code = $1", code)
    assert row["region_code"] == "330212" and row["industry_code"] == "3311"
    assert row["industry_section"] == "C"
    assert (row["size_class"], row["size_year"]) == ("small", 2022)
    assert row["scale_status"] == "above"
    assert row["tier"] == "seedling"
    assert row["titles"] == ["high_tech", "tech_sme"]
    sizes = await db.fetch(
        "SELECT year, size_class FROM registry.enterprise_sizes WHERE credit_code = $1 ORDER BY year", code
    )
    assert [tuple(r) for r in sizes] == [(2021, "micro"), (2022, "small")]
    history = await db.fetch(
        "SELECT status, effective_year FROM registry.scale_status_history WHERE credit_code = $1 "
        "ORDER BY effective_year",
        code,
    )
    assert [tuple(r) for r in history] == [("below", 2020), ("above", 2022)]


async def test_directory_of_a_bare_enterprise_has_nulls_and_no_titles(db):
    code = await add_enterprise(db, industry_code="6513")
    row = await db.fetchrow("SELECT * FROM registry.enterprise_directory WHERE credit_code = $1", code)
    assert row["industry_section"] == "I"
    assert row["size_class"] is None and row["scale_status"] is None and row["tier"] is None
    assert row["titles"] == []


async def test_helper_sizes_cover_every_class_in_several_industries(db):
    for industry in ("3311", "5137", "4710", "7010", "8010", "0141"):
        for size in ("large", "medium", "small", "micro"):
            code = await add_enterprise(db, industry_code=industry, sizes={2022: size})
            got = await db.fetchval(
                "SELECT size_class FROM registry.enterprise_directory WHERE credit_code = $1", code
            )
            assert got == size, (industry, size)
