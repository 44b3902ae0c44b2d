"""Indicators, titles, scale status, screenings and the cultivation pool."""

from datetime import timedelta

import pytest

from services.common.today import today_shanghai
from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


CHAMPION_2022 = {
    "employees": 400,
    "revenue": "80000000",
    "main_business_revenue": "60000000",  # 75 % main-business share
    "total_assets": "100000000",
    "total_liabilities": "80000000",  # 80 % debt ratio: fails CH-7
    "rd_expense": "4000000",  # 5 %
    "invention_patents": 6,
    "market_share": {"scope": "national", "rank": 2},
    "cnc_equipment": {"numerator": 45, "denominator": 60, "basis": "count"},
    "on_cloud": True,
}


async def test_indicators_return_size_class_and_ratios(c, as_, db):
    code = await add_enterprise(db, industry_code="3484")
    r = await c.put(f"/v1/enterprises/{code}/indicators/2022", json=CHAMPION_2022, headers=as_())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["size"]["size"] == "medium" and out["size"]["industry_group"] == "industry"
    assert {d["indicator"] for d in out["size"]["decided_by"]} == {"employees", "revenue"}
    assert out["ratios"] == {
        "rd_intensity": "5.00",
        "main_business_share": "75.00",
        "debt_ratio": "80.00",
        "cnc_rate": "75.00",
    }
    assert out["revenue"] == "80000000.00"
    # Replacing the year answers 200; the directory follows the latest year.
    r = await c.put(
        f"/v1/enterprises/{code}/indicators/2022", json={"employees": 5, "revenue": "100000"}, headers=as_()
    )
    assert r.status_code == 200 and r.json()["size"]["size"] == "micro"
    assert (
        await db.fetchval("SELECT size_class FROM registry.enterprise_directory WHERE credit_code=$1", code)
        == "micro"
    )
    years = (await c.get(f"/v1/enterprises/{code}/indicators", headers=as_())).json()["items"]
    assert [y["year"] for y in years] == [2022]


async def test_indicator_validation(c, as_, db):
    code = await add_enterprise(db)
    url = f"/v1/enterprises/{code}/indicators"
    assert (await c.put(f"{url}/1948", json={}, headers=as_())).status_code == 422
    assert (await c.put(f"{url}/{today_shanghai().year + 2}", json={}, headers=as_())).status_code == 422
    r = await c.put(f"{url}/2022", json={"revenue": "-5"}, headers=as_())
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/revenue"
    r = await c.put(
        f"{url}/2022",
        json={"cnc_equipment": {"numerator": 5, "denominator": 4, "basis": "count"}},
        headers=as_(),
    )
    assert r.status_code == 422
    # Missing figures: no size, named.
    r = await c.put(f"{url}/2022", json={"employees": 30}, headers=as_())
    assert r.status_code == 201 and r.json()["size"] is None and r.json()["size_missing"] == ["revenue"]
    # One indicator below small proves micro (工业: fewer than 20 persons).
    r = await c.put(f"{url}/2022", json={"employees": 12}, headers=as_())
    assert r.status_code == 200 and r.json()["size"]["size"] == "micro"


async def test_an_industry_outside_the_size_rules_is_stored_unsized(c, as_, db):
    """A commercial bank (6621) of 50 staff is no small enterprise: no size class is stored."""
    code = await add_enterprise(db, industry_code="6621")
    r = await c.put(
        f"/v1/enterprises/{code}/indicators/2022",
        json={"employees": 50, "revenue": "30000000", "total_assets": "900000000"},
        headers=as_(),
    )
    assert r.status_code == 201
    size = r.json()["size"]
    assert (
        size["size"] is None
        and size["in_scope"] is False
        and "银发〔2015〕309号" in size["out_of_scope_reason"]
    )
    assert (
        await db.fetchval(
            "SELECT size_class FROM registry.indicators WHERE credit_code = $1 AND year = 2022", code
        )
        is None
    )


async def test_titles_expire_by_themselves_and_can_be_revoked(c, as_, db):
    code = await add_enterprise(db)
    today = today_shanghai()
    url = f"/v1/enterprises/{code}/titles"
    old = {
        "kind": "high_tech",
        "level": "national",
        "valid_from": str(today - timedelta(days=1200)),
        "valid_to": str(today - timedelta(days=1)),
        "issuer": "科技部",
        "rule_version": "2016",
    }
    cur = {
        "kind": "tech_sme",
        "level": "provincial",
        "valid_from": str(today - timedelta(days=10)),
        "valid_to": str(today + timedelta(days=1000)),
        "batch": "2024年第一批",
    }
    assert (await c.post(url, json=old, headers=as_())).status_code == 201
    r = await c.post(url, json=cur, headers=as_())
    assert r.status_code == 201 and r.json()["state"] == "active"
    assert (
        await db.fetchval("SELECT titles FROM registry.enterprise_directory WHERE credit_code=$1", code)
    ) == ["tech_sme"]
    states = {t["kind"]: t["state"] for t in (await c.get(url, headers=as_())).json()["items"]}
    assert states == {"high_tech": "expired", "tech_sme": "active"}
    tid = r.json()["id"]
    r = await c.post(f"{url}/{tid}/revoke", json={"reason": "复核不通过"}, headers=as_())
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert (await c.post(f"{url}/{tid}/revoke", json={"reason": "again"}, headers=as_())).status_code == 409
    assert (
        await db.fetchval("SELECT titles FROM registry.enterprise_directory WHERE credit_code=$1", code)
    ) == []


async def test_scale_status_history_marks_entries(c, as_, db):
    code = await add_enterprise(db)
    url = f"/v1/enterprises/{code}/scale-status"
    for status, year in (("below", 2019), ("above", 2021), ("below", 2022)):
        r = await c.post(
            url, json={"status": status, "effective_year": year, "source": "统计局"}, headers=as_()
        )
        assert r.status_code == 201
    items = (await c.get(url, headers=as_())).json()["items"]
    assert [(i["status"], i["effective_year"], i["entry"]) for i in items] == [
        ("below", 2019, False),
        ("above", 2021, True),
        ("below", 2022, False),
    ]
    assert (
        await db.fetchval("SELECT scale_status FROM registry.enterprises WHERE credit_code=$1", code)
        == "below"
    )


async def test_screening_explains_each_criterion(c, as_, db):
    code = await add_enterprise(db, industry_code="3484", region_code="330106")
    await db.execute(
        "UPDATE registry.enterprises SET established_on = '2008-03-01' WHERE credit_code = $1", code
    )
    await c.put(f"/v1/enterprises/{code}/indicators/2022", json=CHAMPION_2022, headers=as_())
    await c.put(
        f"/v1/enterprises/{code}/indicators/2021",
        json={"revenue": "70000000", "rd_expense": "2100000"},  # 3 % in 2021: fails CH-5
        headers=as_(),
    )
    bare = await add_enterprise(db, region_code="330106")  # no indicators at all
    await add_enterprise(db, region_code="330212")  # outside the county: not screened
    r = await c.post(
        "/v1/screenings",
        json={"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"},
        headers=as_("official", region="330106"),
    )
    assert r.status_code == 201, r.text
    s = r.json()
    assert (s["evaluated"], s["ineligible"], s["incomplete"], s["eligible"]) == (2, 1, 1, 0)
    assert s["region"] == "330106" and s["rule_version"] == "2022-zj"
    cand = {x["credit_code"]: x for x in s["candidates"]["items"]}
    crit = {k["id"]: k for k in cand[code]["criteria"]}
    assert crit["CH-1"]["result"] == "pass" and crit["CH-1"]["values"] == {"2022": 14}
    assert crit["CH-2"]["result"] == "pass"
    assert crit["CH-3"]["result"] == "pass" and crit["CH-3"]["values"] == {"2022": "75.00"}
    assert crit["CH-4"]["result"] == "pass"
    assert crit["CH-5"]["result"] == "fail" and crit["CH-5"]["values"] == {"2022": "5.00", "2021": "3.00"}
    assert crit["CH-6"]["result"] == "pass"
    assert crit["CH-7"]["result"] == "fail" and crit["CH-7"]["values"] == {"2022": "80.00"}
    assert cand[bare]["outcome"] == "incomplete"
    assert {k["result"] for k in cand[bare]["criteria"]} == {"missing_data", "pass"}
    again = await c.get(f"/v1/screenings/{s['id']}", params={"outcome": "ineligible"}, headers=as_())
    assert [x["credit_code"] for x in again.json()["candidates"]["items"]] == [code]
    # Another county's official cannot read it.
    assert (
        await c.get(f"/v1/screenings/{s['id']}", headers=as_("official", region="330212"))
    ).status_code == 404
    bad = await c.post(
        "/v1/screenings",
        json={"tier": "seedling", "year": 2022, "rule_set": "champion-zj-2022"},
        headers=as_(),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/tier"


async def test_pool_promotion_keeps_history_and_one_active_tier(c, as_, db):
    code = await add_enterprise(db, region_code="330106")
    official = as_("official", region="330106")

    async def decide(tier, year, decision, expect=201):
        r = await c.post(
            "/v1/pool/decisions",
            json={"credit_code": code, "tier": tier, "year": year, "decision": decision, "reason": "评审"},
            headers=official,
        )
        assert r.status_code == expect, r.text
        return r.json()

    assert (await decide("seedling", 2020, "admit"))["active_tier"] == "seedling"
    await decide("seedling", 2021, "admit", 409)
    out = await decide("specialized", 2021, "admit")
    assert out["previous_tier"] == "seedling" and out["active_tier"] == "specialized"
    await decide("champion", 2022, "reject")
    await decide("seedling", 2022, "exit", 409)
    assert (await decide("champion_candidate", 2022, "admit"))["active_tier"] == "champion_candidate"
    history = (await c.get(f"/v1/enterprises/{code}/pool-history", headers=official)).json()["items"]
    assert [(h["tier"], h["year"], h["decision"]) for h in history] == [
        ("seedling", 2020, "admit"),
        ("specialized", 2021, "admit"),
        ("champion", 2022, "reject"),
        ("champion_candidate", 2022, "admit"),
    ]
    pool = (await c.get("/v1/pool", params={"tier": "champion_candidate"}, headers=official)).json()["items"]
    assert [(p["credit_code"], p["tier_year"]) for p in pool] == [(code, 2022)]
    assert (await decide("champion_candidate", 2023, "exit"))["active_tier"] is None
    assert (await c.get("/v1/pool", headers=official)).json()["items"] == []
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_type='pool_membership'") == 5


async def test_parks_and_tenants(c, as_, db):
    code = await add_enterprise(db, region_code="330106")
    official = as_("official", region="330106")
    r = await c.post(
        "/v1/parks",
        json={
            "name": "西湖小微企业园",
            "region_code": "330106",
            "star_rating": 4,
            "rated_on": "2022-06-01",
            "opened_on": "2019-01-01",
        },
        headers=official,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert (
        await c.post("/v1/parks", json={"name": "西湖小微企业园", "region_code": "330106"}, headers=official)
    ).status_code == 409
    assert (
        await c.post("/v1/parks", json={"name": "鄞州园", "region_code": "330212"}, headers=official)
    ).status_code == 403
    r = await c.put(f"/v1/parks/{pid}/tenants/{code}", json={"moved_in_on": "2020-03-01"}, headers=official)
    assert r.status_code == 201
    r = await c.put(f"/v1/parks/{pid}/tenants/{code}", json={"moved_in_on": "2020-03-01"}, headers=official)
    assert r.status_code == 200
    park = (await c.get(f"/v1/parks/{pid}", headers=official)).json()
    assert park["tenants"] == 1 and park["star_rating"] == 4
    r = await c.patch(
        f"/v1/parks/{pid}", json={"star_rating": 5, "national_demo_base": True}, headers=official
    )
    assert r.json()["star_rating"] == 5 and r.json()["national_demo_base"] is True
    listed = (await c.get("/v1/parks", params={"min_stars": 5}, headers=official)).json()["items"]
    assert [p["id"] for p in listed] == [pid]
    assert (await c.get(f"/v1/parks/{pid}", headers=as_("official", region="330212"))).status_code == 404


async def test_a_screenings_candidate_cursor_is_bound_to_that_screening_and_its_official(c, as_, db):
    """The run answers the first 50 candidates; its next cursor continues `GET /v1/screenings/{id}`
    for that official only — not another screening, other filters or another official."""
    for _ in range(51):
        await add_enterprise(db, region_code="330106")
    zhang = as_("official", region="330106", sub="official:zhang")
    run = {"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"}
    first = (await c.post("/v1/screenings", json=run, headers=zhang)).json()
    other = (await c.post("/v1/screenings", json=run, headers=zhang)).json()
    cursor = first["candidates"]["next_cursor"]
    assert cursor and len(first["candidates"]["items"]) == 50
    nxt = await c.get(f"/v1/screenings/{first['id']}", params={"cursor": cursor}, headers=zhang)
    assert nxt.status_code == 200, nxt.text
    assert len(nxt.json()["candidates"]["items"]) == 1 and nxt.json()["candidates"]["next_cursor"] is None
    for path, params, headers in [
        (f"/v1/screenings/{other['id']}", {}, zhang),
        (f"/v1/screenings/{first['id']}", {"outcome": "incomplete"}, zhang),
        (f"/v1/screenings/{first['id']}", {}, as_("official", region="330106", sub="official:li")),
    ]:
        r = await c.get(path, params={**params, "cursor": cursor}, headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", (path, params, r.text)


async def test_a_decision_cannot_cite_a_screening_outside_the_callers_region(c, as_, db):
    """A screening another region ran is, to this official, as absent as one that never existed:
    the same 404, so a decision cannot tell whether it exists."""
    await add_enterprise(db, region_code="330106")
    ningbo_firm = await add_enterprise(db, region_code="330212")
    run = {"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"}
    xihu = (await c.post("/v1/screenings", json=run, headers=as_("official", region="330106"))).json()
    yinzhou = as_("official", region="330212")

    async def decide(screening_id, headers=yinzhou):
        body = {"credit_code": ningbo_firm, "tier": "seedling", "year": 2022, "decision": "reject"}
        return await c.post(
            "/v1/pool/decisions", json={**body, "screening_id": screening_id}, headers=headers
        )

    outside, missing = await decide(xihu["id"]), await decide(xihu["id"] + 1000)
    assert outside.status_code == missing.status_code == 404, outside.text
    assert outside.json()["code"] == missing.json()["code"] == "not_found"
    assert outside.json()["detail"] == f"screening {xihu['id']} not found"
    assert missing.json()["detail"] == f"screening {xihu['id'] + 1000} not found"
    assert await db.fetchval("SELECT count(*) FROM registry.pool_decisions") == 0
    # a province official covers the county's screening
    assert (await decide(xihu["id"], as_("official", region="330000"))).status_code == 201
