"""Adoption (采标) reports: numerator, denominator and basis; only IDT and MOD count."""

import pytest

from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("standards")


def products(*degrees):
    return [
        {"product": f"产品{i}", "standard_code": f"IEC 6033{i}-1:2020", "degree": d}
        for i, d in enumerate(degrees)
    ]


async def test_only_idt_and_mod_count_toward_the_rate(c, as_, db):
    code = await add_enterprise(db, region_code="330106")
    body = {
        "main_products": 8,
        "adopting_products": products("IDT", "MOD", "NEQ", "IDT"),
        "basis": "2023年统计年报",
    }
    r = await c.put(
        f"/v1/enterprises/{code}/adoption/2023", json=body, headers=as_("official", region="330100")
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["numerator"], out["denominator"], out["rate"]) == (3, 8, "37.50")
    again = await c.put(
        f"/v1/enterprises/{code}/adoption/2023", json={**body, "main_products": 6}, headers=as_()
    )
    assert again.status_code == 200 and again.json()["rate"] == "50"
    got = await c.get(f"/v1/enterprises/{code}/adoption/2023", headers=as_())
    assert got.json()["denominator"] == 6
    log = await db.fetch("SELECT action FROM standards.changes ORDER BY seq")
    assert [x["action"] for x in log] == ["created", "updated"]


async def test_more_adopting_than_main_products_is_rejected(c, as_, db):
    code = await add_enterprise(db)
    body = {"main_products": 1, "adopting_products": products("IDT", "MOD")}
    r = await c.put(f"/v1/enterprises/{code}/adoption/2023", json=body, headers=as_())
    assert r.status_code == 422


async def test_officials_write_only_in_their_region(c, as_, db):
    code = await add_enterprise(db, region_code="330212")
    body = {"main_products": 2, "adopting_products": []}
    r = await c.put(
        f"/v1/enterprises/{code}/adoption/2023", json=body, headers=as_("official", region="330100")
    )
    assert r.status_code == 404
    r = await c.put(f"/v1/enterprises/{code}/adoption/2023", json=body, headers=as_("certifier", org="CQM"))
    assert r.status_code == 403
