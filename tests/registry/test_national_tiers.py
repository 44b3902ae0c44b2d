"""The national scheme's tiers (innovative → specialized → little_giant, 工信部企业〔2022〕63号)
through the API: a screening reads the titles an enterprise holds, decisions admit at the new
tiers, and the statistics count them; hand-computed numbers in the comments."""

import pytest

from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


SMALL_2022 = {"employees": 50, "revenue": "10000000"}  # 工业: X 50 ≥ 20, Y 1000万 ≥ 300万 → small


async def test_innovative_screening_reads_titles_held(c, as_, db):
    titled = await add_enterprise(db, region_code="330106", titles=["high_tech"])
    plain = await add_enterprise(db, region_code="330106")
    for code in (titled, plain):
        r = await c.put(f"/v1/enterprises/{code}/indicators/2022", json=SMALL_2022, headers=as_())
        assert r.status_code == 201, r.text
    r = await c.post(
        "/v1/screenings",
        json={"tier": "innovative", "year": 2022, "rule_set": "innovative_sme-2022"},
        headers=as_("official", region="330106"),
    )
    assert r.status_code == 201, r.text
    s = r.json()
    # titled: small and holds high_tech (INN-1.3) → eligible; plain: small, no score, no title,
    # the other alternatives not recorded → incomplete.
    assert (s["evaluated"], s["eligible"], s["incomplete"], s["ineligible"]) == (2, 1, 1, 0)
    assert s["rule_version"] == "2022-63"
    cand = {x["credit_code"]: x for x in s["candidates"]["items"]}
    assert cand[titled]["outcome"] == "eligible" and cand[plain]["outcome"] == "incomplete"
    group = next(k for k in cand[plain]["criteria"] if k["id"] == "INN-1")
    assert (
        group["group"] == "any_of" and "equity_financing_3y (not tracked by the registry)" in group["missing"]
    )
    # A rule set screens its own tier only.
    r = await c.post(
        "/v1/screenings",
        json={"tier": "little_giant", "year": 2022, "rule_set": "innovative_sme-2022"},
        headers=as_(),
    )
    assert r.status_code == 422, r.text


async def test_rule_sets_list_source_and_settled(c, as_):
    items = {rs["id"]: rs for rs in (await c.get("/v1/rule-sets", headers=as_())).json()["items"]}
    lg = items["little_giant-2022"]
    assert lg["tiers"] == ["little_giant"] and lg["settled"] is False and lg["unsettled"] is True
    assert "工信部企业〔2022〕63号" in lg["source"]
    group = next(c for c in items["specialized_sme-2022"]["criteria"] if c["id"] == "SSME-5")
    assert [a["id"] for a in group["any_of"]] == ["SSME-5.1", "SSME-5.2", "SSME-5.3", "SSME-5.4", "SSME-5.5"]


async def test_new_tiers_are_admitted_and_counted(c, as_, db):
    a = await add_enterprise(db, region_code="330106")
    b = await add_enterprise(db, region_code="330106")
    official = as_("official", region="330106")

    async def decide(code, tier, year):
        r = await c.post(
            "/v1/pool/decisions",
            json={"credit_code": code, "tier": tier, "year": year, "decision": "admit", "reason": "认定"},
            headers=official,
        )
        assert r.status_code == 201, r.text
        return r.json()

    await decide(a, "seedling", 2021)
    assert (await decide(a, "innovative", 2022))["previous_tier"] == "seedling"
    await decide(b, "specialized", 2021)
    assert (await decide(b, "little_giant", 2022))["active_tier"] == "little_giant"
    s = (await c.get("/v1/stats", params={"year": 2022}, headers=official)).json()
    # End of 2022: a innovative (its seedling tier left), b little_giant (its specialized left).
    assert s["pool"] == {
        "seedling": 0,
        "innovative": 1,
        "specialized": 0,
        "little_giant": 1,
        "champion_candidate": 0,
        "champion": 0,
    }
    s = (await c.get("/v1/stats", params={"year": 2021}, headers=official)).json()
    # End of 2021: a seedling, b specialized.
    assert (s["pool"]["seedling"], s["pool"]["specialized"], s["pool"]["innovative"]) == (1, 1, 0)
    # An unknown tier is refused with a pointer.
    r = await c.post(
        "/v1/pool/decisions",
        json={"credit_code": a, "tier": "giant", "year": 2022, "decision": "admit"},
        headers=official,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/tier"
