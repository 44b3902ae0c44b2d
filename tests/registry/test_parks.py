"""Parks: a name is unique within its region, also when officials register it at the same moment."""

import asyncio
from collections import Counter


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
