"""Enterprise writes under concurrency: created/updated and scope are decided inside the write.

Several requests run at once against the in-process app (each on its own pooled connection of the
real PostgreSQL), so they race exactly as clients' requests do.
"""

import asyncio
from collections import Counter

import pytest

from tests.registry_data import add_enterprise, new_credit_code

HZ_XIHU, NB_YINZHOU = "330106", "330212"
HZ_OFFICIAL, NB_OFFICIAL = {"region": "330100"}, {"region": "330200"}


@pytest.fixture
def c(client_for):
    return client_for("registry")


def record(code: str, region_code: str, name: str = "浙江并发测试有限公司") -> dict:
    return {"credit_code": code, "name": name, "region_code": region_code, "industry_code": "3484"}


async def _changes(db, action: str | None = None) -> int:
    sql = "SELECT count(*) FROM registry.changes WHERE entity_type = 'enterprise'"
    if action:
        return await db.fetchval(sql + " AND action = $1", action)
    return await db.fetchval(sql)


async def test_eight_identical_concurrent_batches_create_each_enterprise_once(c, as_, db):
    codes = [new_credit_code(HZ_XIHU) for _ in range(200)]
    records = [record(code, HZ_XIHU, f"杭州并发{i}有限公司") for i, code in enumerate(codes)]
    headers = as_("official", sub="hz-1", **HZ_OFFICIAL)
    responses = await asyncio.gather(
        *(c.post("/v1/enterprises/batch", json={"records": records}, headers=headers) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text[:300] for r in responses]
    statuses = Counter(x["status"] for r in responses for x in r.json()["results"])
    assert statuses == {"created": 200, "unchanged": 1400}
    assert await _changes(db) == 200 and await _changes(db, "created") == 200
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 200


async def test_concurrent_batches_from_two_regions_never_move_a_record_between_them(c, as_, db):
    """Hangzhou and Ningbo officials post the same new credit codes at once, each in their own
    region: every code is created once, in the region of the batch that created it; the other
    region's batches are refused it (REG-E006) and the record stays where it was created."""
    codes = [new_credit_code(HZ_XIHU) for _ in range(200)]
    hz = {"records": [record(code, HZ_XIHU) for code in codes]}
    nb = {"records": [record(code, NB_YINZHOU) for code in codes]}
    calls = []
    for i in range(8):
        body, who = (hz, HZ_OFFICIAL) if i % 2 == 0 else (nb, NB_OFFICIAL)
        calls.append((body, as_("official", sub=f"o-{i}", **who)))
    responses = await asyncio.gather(
        *(c.post("/v1/enterprises/batch", json=body, headers=h) for body, h in calls)
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text[:300] for r in responses]
    created_in: dict[str, str] = {}
    for (body, _), r in zip(calls, responses, strict=True):
        for res, rec in zip(r.json()["results"], body["records"], strict=True):
            if res["status"] == "created":
                assert res["key"] not in created_in
                created_in[res["key"]] = rec["region_code"]
            elif res["status"] == "rejected":
                assert [e["rule"] for e in res["errors"]] == ["REG-E006"]
            else:
                assert res["status"] == "unchanged", res
    assert sorted(created_in) == sorted(codes)
    stored = dict(
        await db.fetch(
            "SELECT credit_code, region_code FROM registry.enterprises WHERE credit_code = ANY($1)", codes
        )
    )
    assert stored == created_in
    assert await _changes(db) == 200 and await _changes(db, "created") == 200


async def test_a_batch_cannot_move_an_enterprise_of_another_region_into_the_callers(c, as_, db):
    code = await add_enterprise(db, region_code=NB_YINZHOU, name="宁波原有企业有限公司")
    r = await c.post(
        "/v1/enterprises/batch",
        json={"records": [record(code, HZ_XIHU)]},
        headers=as_("official", **HZ_OFFICIAL),
    )
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and result["errors"][0]["rule"] == "REG-E006"
    assert (
        await db.fetchval("SELECT region_code FROM registry.enterprises WHERE credit_code = $1", code)
        == NB_YINZHOU
    )
    assert await _changes(db) == 0


async def test_concurrent_batches_changing_one_enterprise_log_each_real_change_once(c, as_, db):
    """Eight batches rename the same enterprise to the same new name at once: one `updated` with
    the true before/after, seven `unchanged`."""
    code = await add_enterprise(db, region_code=HZ_XIHU, name="旧名有限公司", industry_code="3484")
    body = {"records": [record(code, HZ_XIHU, "新名有限公司")]}
    responses = await asyncio.gather(
        *(
            c.post("/v1/enterprises/batch", json=body, headers=as_("official", sub=f"o-{i}", **HZ_OFFICIAL))
            for i in range(8)
        )
    )
    statuses = Counter(r.json()["results"][0]["status"] for r in responses)
    assert statuses == {"updated": 1, "unchanged": 7}
    rows = await db.fetch("SELECT action, before, after FROM registry.changes WHERE entity_key = $1", code)
    assert len(rows) == 1 and rows[0]["action"] == "updated"
    assert '"旧名有限公司"' in rows[0]["before"] and '"新名有限公司"' in rows[0]["after"]


async def test_two_officials_registering_one_new_credit_code_at_once_get_one_created(c, as_, db):
    code = new_credit_code(HZ_XIHU)
    calls = [(record(code, HZ_XIHU), as_("official", sub=f"hz-{i}", **HZ_OFFICIAL)) for i in range(4)] + [
        (record(code, NB_YINZHOU), as_("official", sub=f"nb-{i}", **NB_OFFICIAL)) for i in range(4)
    ]
    responses = await asyncio.gather(*(c.post("/v1/enterprises", json=b, headers=h) for b, h in calls))
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: 7}, [r.text[:200] for r in responses]
    winner = next(b for (b, _), r in zip(calls, responses, strict=True) if r.status_code == 201)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "enterprise_exists"
            assert r.json()["errors"][0]["pointer"] == "/credit_code"
    assert (
        await db.fetchval("SELECT region_code FROM registry.enterprises WHERE credit_code = $1", code)
        == winner["region_code"]
    )
    assert await _changes(db) == 1


async def test_an_atomic_batch_meeting_a_record_of_another_region_writes_nothing(c, as_, db):
    theirs = await add_enterprise(db, region_code=NB_YINZHOU, name="宁波原有企业有限公司")
    mine = new_credit_code(HZ_XIHU)
    r = await c.post(
        "/v1/enterprises/batch",
        params={"atomic": "true"},
        json={"records": [record(mine, HZ_XIHU), record(theirs, HZ_XIHU)]},
        headers=as_("official", **HZ_OFFICIAL),
    )
    out = r.json()
    assert out["committed"] is False
    assert [x["status"] for x in out["results"]] == ["unchanged", "rejected"]
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises WHERE credit_code = $1", mine) == 0
    assert await _changes(db) == 0


async def test_a_batch_of_five_thousand_new_enterprises_is_written_in_one_request(c, as_, db):
    records = [record(new_credit_code(HZ_XIHU), HZ_XIHU, f"杭州大批{i}有限公司") for i in range(5000)]
    for rec in records:
        rec.update(established_on="2015-03-01", registered_capital="100000", address="杭州市西湖区")
    r = await c.post("/v1/enterprises/batch", json={"records": records}, headers=as_())
    assert r.status_code == 200, r.text[:500]
    assert r.json()["summary"]["created"] == 5000
    assert await _changes(db, "created") == 5000


async def test_overlapping_concurrent_batches_never_deadlock_and_log_what_they_report(c, as_, db):
    """Eight batches over overlapping halves of 100 codes (half registered already), in different
    orders and with different names: every batch commits, and the change log holds exactly the
    records reported created or updated, each update's `before` being the value it replaced."""
    registered = [await add_enterprise(db, region_code=HZ_XIHU, industry_code="3484") for _ in range(50)]
    codes = registered + [new_credit_code(HZ_XIHU) for _ in range(50)]
    batches = []
    for k in range(8):
        chosen = codes[k % 2 :: 2] + codes[k * 10 : k * 10 + 20]
        chosen = list(dict.fromkeys(chosen if k % 3 else chosen[::-1]))
        batches.append({"records": [record(code, HZ_XIHU, f"第{k}版有限公司") for code in chosen]})
    responses = await asyncio.gather(
        *(
            c.post("/v1/enterprises/batch", json=b, headers=as_("official", sub=f"o-{k}", **HZ_OFFICIAL))
            for k, b in enumerate(batches)
        )
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text[:300] for r in responses]
    reported = Counter(x["status"] for r in responses for x in r.json()["results"])
    assert reported["created"] == 50 and reported["rejected"] == 0
    logged = Counter(
        dict(
            await db.fetch(
                "SELECT action, count(*) FROM registry.changes WHERE entity_type = 'enterprise' GROUP BY 1"
            )
        )
    )
    assert logged == {"created": reported["created"], "updated": reported["updated"]}
    rows = await db.fetch(
        "SELECT entity_key, action, before ->> 'name' AS before, after ->> 'name' AS after "
        "FROM registry.changes ORDER BY seq"
    )
    last: dict[str, str] = {code: "浙江测试实业有限公司" for code in registered}
    for row in rows:  # in commit order per enterprise: each update replaced the previous value
        if row["action"] == "updated":
            assert row["before"] == last[row["entity_key"]], row
        last[row["entity_key"]] = row["after"]
