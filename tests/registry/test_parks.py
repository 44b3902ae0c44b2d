"""Parks: a name is unique within its region, also when officials register it at the same moment."""

import asyncio
from collections import Counter
from datetime import date, timedelta

from tests.registry_data import add_enterprise


async def test_concurrent_registrations_of_one_park_give_one_201_and_409_problems(client_for, as_, db):
    c = client_for("registry")
    park = {"name": "西湖数字经济小微企业园", "region_code": "330106"}
    responses = await asyncio.gather(
        *(c.post("/v1/parks", json=park, headers=as_("official", region="330100")) for _ in range(8))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 7}, [r.text[:200] for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "park_exists"
            assert r.json()["errors"][0]["pointer"] == "/name"
    assert await db.fetchval("SELECT count(*) FROM registry.parks") == 1
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type = 'park'") == 1


async def test_registering_an_existing_park_again_is_the_same_409(client_for, as_):
    c = client_for("registry")
    park = {"name": "滨江小微企业园", "region_code": "330108"}
    assert (await c.post("/v1/parks", json=park, headers=as_())).status_code == 201
    r = await c.post("/v1/parks", json=park, headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "park_exists"
    assert r.json()["errors"][0]["pointer"] == "/name"


async def test_the_park_list_region_filter_is_the_region_scope_of_every_list(client_for, as_):
    # Disagreement: the park list matched ?region= as a raw LIKE prefix (330100 found only parks
    # filed under the city code itself) and intersected it with the caller's region (an empty list
    # outside it). The lists' rule won: 330100 and 3301 mean Hangzhou, and a region outside the
    # caller's is a 403, as for enterprises, screenings and statistics.
    c = client_for("registry")
    for name, region in (("西湖园", "330106"), ("滨江园", "330108"), ("鄞州园", "330212")):
        r = await c.post("/v1/parks", json={"name": name, "region_code": region}, headers=as_())
        assert r.status_code == 201, r.text

    async def names(region, headers=None):
        r = await c.get("/v1/parks", params={"region": region}, headers=headers or as_())
        assert r.status_code == 200, r.text
        return {p["name"] for p in r.json()["items"]}

    assert await names("330100") == await names("3301") == {"西湖园", "滨江园"}
    assert await names("330000") == {"西湖园", "滨江园", "鄞州园"}
    assert await names("330106", as_("official", region="330100")) == {"西湖园"}
    r = await c.get("/v1/parks", params={"region": "3302"}, headers=as_("official", region="330100"))
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
    assert r.json()["errors"][0]["pointer"] == "#/query/region"


async def test_a_parks_tenants_today_are_counted_on_the_programmes_today_everywhere(
    client_for, as_, db, monkeypatch
):
    # Disagreement: the park list counted tenants on the database session's CURRENT_DATE (UTC, so
    # yesterday before 08:00 in Shanghai), the park and its tenant list on the process's date. The
    # programme's today (the Shanghai date) won for all three.
    from services.registry.parks import repository

    day = date(2031, 5, 20)
    monkeypatch.setattr(repository, "today_shanghai", lambda: day)
    c = client_for("registry")
    r = await c.post("/v1/parks", json={"name": "未来园", "region_code": "330106"}, headers=as_())
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    tenancies = {
        "moved in today": (day, None),
        "moves in tomorrow": (day + timedelta(days=1), None),
        "moved out today": (day - timedelta(days=30), day),
        "moves out tomorrow": (day - timedelta(days=30), day + timedelta(days=1)),
    }
    codes = {}
    for what, (moved_in, moved_out) in tenancies.items():
        codes[what] = await add_enterprise(db)
        await db.execute(
            "INSERT INTO registry.park_tenants (park_id, credit_code, moved_in_on, moved_out_on) "
            "VALUES ($1, $2, $3, $4)",
            pid,
            codes[what],
            moved_in,
            moved_out,
        )
    current = {codes["moved in today"], codes["moves out tomorrow"]}
    listed = (await c.get("/v1/parks", params={"region": "330106"}, headers=as_())).json()["items"]
    assert [p["tenants"] for p in listed if p["id"] == pid] == [2]
    assert (await c.get(f"/v1/parks/{pid}", headers=as_())).json()["tenants"] == 2
    r = await c.get(f"/v1/parks/{pid}/tenants", headers=as_())
    assert {t["credit_code"] for t in r.json()["items"]} == current
