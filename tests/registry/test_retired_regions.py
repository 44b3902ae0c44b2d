"""Retired county codes (migration 0022_retired_regions): rows filed under a code with one
successor move to it, each move in the change log; a split code's rows stay for an official."""

import asyncio

import asyncpg
from alembic import command

from services.common.db import plain_url
from services.common.regions import regions
from tests.test_migrations import _config, _fresh_database


def _migration():
    from importlib import import_module

    return import_module("migrations.versions.0022_retired_regions")


def test_the_moves_are_the_region_tables_unique_successors():
    table = {r.code: r.successors[0] for r in regions().values() if r.retired and len(r.successors) == 1}
    assert _migration().MOVES == table


def test_rows_under_a_retired_code_move_to_its_one_successor(database_url):
    url = _fresh_database(database_url, "eaglet_retired_regions")
    cfg = _config(url)
    command.upgrade(cfg, "0021_roles_grants")

    async def seed():
        conn = await asyncpg.connect(plain_url(url))
        try:
            for code, region in (("A", "330103"), ("B", "330104"), ("C", "330106")):
                await conn.execute(
                    "INSERT INTO registry.enterprises (credit_code, name, region_code, industry_code) "
                    "VALUES ($1, $2, $3, '3311')",
                    f"91330000MA{code}0000000",
                    f"企业{code}",
                    region,
                )
            await conn.execute(
                "INSERT INTO registry.parks (name, region_code) VALUES "
                "('园区一', '330103'), ('园区二', '330103'), ('园区二', '330105')"
            )
        finally:
            await conn.close()

    async def read():
        conn = await asyncpg.connect(plain_url(url))
        try:
            ents = dict(await conn.fetch("SELECT credit_code, region_code FROM registry.enterprises"))
            parks = sorted(tuple(r) for r in await conn.fetch("SELECT name, region_code FROM registry.parks"))
            changes = await conn.fetch(
                "SELECT actor_subject, entity_type, before, after FROM registry.changes ORDER BY seq"
            )
            return ents, parks, changes
        finally:
            await conn.close()

    asyncio.run(seed())
    command.upgrade(cfg, "0022_retired_regions")
    ents, parks, changes = asyncio.run(read())
    assert ents == {
        "91330000MAA0000000": "330105",  # 下城区 → 拱墅区
        "91330000MAB0000000": "330104",  # 江干区 was split: left for an official
        "91330000MAC0000000": "330106",
    }
    # 园区二 already exists in 拱墅区: that park stays under 下城区 rather than clash
    assert parks == [("园区一", "330105"), ("园区二", "330103"), ("园区二", "330105")]
    assert [(c["entity_type"], c["before"], c["after"]) for c in changes] == [
        ("enterprise", '{"region_code": "330103"}', '{"region_code": "330105"}'),
        ("park", '{"region_code": "330103"}', '{"region_code": "330105"}'),
    ]
    assert {c["actor_subject"] for c in changes} == {"migration:0022_retired_regions"}
