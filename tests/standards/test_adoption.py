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


async def test_a_report_is_changed_only_from_its_current_tag(c, as_, db):
    """Two officials replace one year's report: the second, holding the tag both read, gets a 412
    and writes nothing; the GET revalidates with the tag; a year without a report fails any
    If-Match (`*` too)."""
    code = await add_enterprise(db, region_code="330106")
    url = f"/v1/enterprises/{code}/adoption/2023"
    first, second = as_("official", region="330100"), as_("official", region="330106")
    body = {"main_products": 4, "adopting_products": products("IDT"), "basis": "2023年统计年报"}
    for if_match in ('"anything"', "*"):
        refused = await c.put(url, json=body, headers={**first, "If-Match": if_match})
        assert refused.status_code == 412, refused.text
        assert refused.json()["code"] == "precondition_failed"
        assert refused.json()["errors"][0]["pointer"] == "#/header/if-match"
    assert (await c.get(url, headers=first)).status_code == 404
    created = await c.put(url, json=body, headers=first)
    assert created.status_code == 201
    tag = created.headers["etag"]
    got = await c.get(url, headers=second)
    assert got.headers["etag"] == tag and got.json() == created.json()
    revalidated = await c.get(url, headers={**second, "If-None-Match": tag})
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["etag"] == tag

    changed = await c.put(url, json={**body, "main_products": 5}, headers={**first, "If-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    stale = await c.put(url, json={**body, "main_products": 6}, headers={**second, "If-Match": tag})
    assert stale.status_code == 412
    weak = await c.put(url, json=body, headers={**second, "If-Match": "W/" + changed.headers["etag"]})
    assert weak.status_code == 412  # If-Match compares strongly
    now = await c.get(url, headers=second)
    assert now.json()["denominator"] == 5 and now.headers["etag"] == changed.headers["etag"]
    assert (await c.get(url, headers={**second, "If-None-Match": tag})).status_code == 200
    log = await db.fetch("SELECT action FROM standards.changes WHERE entity_type = 'adoption' ORDER BY seq")
    assert [x["action"] for x in log] == ["created", "updated"]
    ok = await c.put(url, json={**body, "main_products": 7}, headers={**second, "If-Match": "*"})
    assert ok.status_code == 200 and ok.json()["denominator"] == 7


async def test_a_control_character_in_if_match_is_a_422(c, as_, db):
    code = await add_enterprise(db, region_code="330106")
    r = await c.put(
        f"/v1/enterprises/{code}/adoption/2023",
        json={"main_products": 2, "adopting_products": []},
        headers={**as_(), "If-Match": '"a\x7f"'},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/header/if-match"
