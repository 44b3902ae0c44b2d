"""Statistics on a crafted dataset; every expected number is computed by hand in the comments."""

import pytest

from services.common.today import today_shanghai
from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def arrange(db):
    hz1 = await add_enterprise(db, region_code="330106", titles=["tech_sme", "high_tech"])
    hz2 = await add_enterprise(db, region_code="330110", titles=["tech_sme"])
    nb1 = await add_enterprise(db, region_code="330212", titles=["tech_sme"])
    nb2 = await add_enterprise(db, region_code="330212")
    # Scale: hz1 below 2020 → above 2022 (entry); hz2 above since 2019 (no change);
    # nb1 above 2020 → below 2022 (exit); nb2 above 2022 with no earlier fact (entry).
    for code, facts in (
        (hz1, [("below", 2020), ("above", 2022)]),
        (hz2, [("above", 2019)]),
        (nb1, [("above", 2020), ("below", 2022)]),
        (nb2, [("above", 2022)]),
    ):
        for status, year in facts:
            await db.execute(
                "INSERT INTO registry.scale_statuses (credit_code, status, effective_year) VALUES ($1, $2, $3)",
                code,
                status,
                year,
            )
    # Pool at the end of 2022: hz1 champion_candidate (promoted from seedling), hz2 champion,
    # nb1 seedling; nb2 admitted 2023 only (not counted for 2022).
    for code, tier, year in (
        (hz1, "seedling", 2021),
        (hz1, "champion_candidate", 2022),
        (hz2, "champion", 2022),
        (nb1, "seedling", 2022),
        (nb2, "seedling", 2023),
    ):
        await db.execute(
            "INSERT INTO registry.pool_decisions (credit_code, tier, year, decision, decided_by) "
            "VALUES ($1, $2, $3, 'admit', 't')",
            code,
            tier,
            year,
        )
    # 2022 indicators: on_cloud hz1, hz2, nb1; CNC count basis hz1 30/40, hz2 33/60 → 63/100 = 63.00 %;
    # nb1 (a seedling) 50/50 is not a champion and does not count.
    for code, cloud, num, den in (
        (hz1, True, 30, 40),
        (hz2, True, 33, 60),
        (nb1, True, 50, 50),
        (nb2, False, None, None),
    ):
        await db.execute(
            "INSERT INTO registry.indicators (credit_code, year, on_cloud, cnc_numerator, cnc_denominator, cnc_basis) "
            "VALUES ($1, 2022, $2, $3, $4, CASE WHEN $3::numeric IS NULL THEN NULL ELSE 'count' END)",
            code,
            cloud,
            num,
            den,
        )
    # Parks: Hangzhou 5-star (2 tenants, one moved out in 2021), 3-star; Ningbo 4-star opened 2023.
    p1 = await db.fetchval(
        "INSERT INTO registry.parks (name, region_code, star_rating, opened_on) VALUES ('A园', '330106', 5, '2018-01-01') RETURNING id"
    )
    await db.execute(
        "INSERT INTO registry.parks (name, region_code, star_rating, opened_on) VALUES ('B园', '330110', 3, '2019-01-01')"
    )
    await db.execute(
        "INSERT INTO registry.parks (name, region_code, star_rating, opened_on) VALUES ('C园', '330212', 4, '2023-05-01')"
    )
    await db.execute(
        "INSERT INTO registry.park_tenants (park_id, credit_code, moved_in_on, moved_out_on) VALUES "
        "($1, $2, '2019-01-01', NULL), ($1, $3, '2019-01-01', '2021-06-30')",
        p1,
        hz1,
        hz2,
    )
    return hz1, hz2, nb1, nb2


async def test_province_figures_for_2022(c, as_, db):
    _, _, _, nb2 = await arrange(db)
    r = await c.get("/v1/stats", params={"year": 2022}, headers=as_("official", region="330000"))
    assert r.status_code == 200, r.text
    s = r.json()
    f = s["figures"]
    # The programme's baseline: the end of 2019 (services/registry/data/programme_targets.json).
    assert s["as_of"] == "2022-12-31" and s["baseline_year"] == 2019
    # Titles are active today and were arranged valid from a year ago, so on 2022-12-31 only
    # when today is within a year of it; use the current year below for titles.
    # Above at end 2019: hz2 = 1; at end 2022: hz1, hz2, nb2 = 3. Entries: hz1 (below → above);
    # nb2's first fact is above: a new entrant, not counted; nb1 was not above at the baseline:
    # no exit → net 1 − 0 = 1.
    assert (f["above_scale_baseline"], f["above_scale"]) == (1, 3)
    assert (f["net_new_above_scale"], f["above_scale_entries"], f["above_scale_exits"]) == (1, 1, 0)
    assert f["above_scale_new_entrants"] == 1
    assert [e["credit_code"] for e in s["above_scale_new_entrants"]] == [nb2]
    assert (f["champion_candidates"], f["champions"]) == (1, 1)
    assert s["pool"] == {
        "seedling": 1,
        "innovative": 0,
        "specialized": 0,
        "little_giant": 0,
        "champion_candidate": 1,
        "champion": 1,
    }
    assert f["cloud_enterprises"] == 3
    assert f["champion_cnc_rate"] == "63.00" and f["champion_cnc"]["count"]["enterprises"] == 2
    # Parks opened by 2022-12-31: A, B → 2; star parks: A → 1; tenants on that day: hz1 → 1.
    assert (f["parks"], f["star_parks"], f["park_tenants"]) == (2, 1, 1)
    # The bulletin feed carries the actual figure beside the programme target.
    assert s["targets"]["net_new_above_scale"] == {
        "value": "1",
        "target": "10000",
        "unit": "enterprises",
        "definition": s["targets"]["net_new_above_scale"]["definition"],
        "source": None,  # only a reported figure names a source document
    }
    assert s["targets"]["champion_cnc_rate"]["value"] == "63.00"
    assert s["targets"]["parks"]["value"] == "2" and s["targets"]["cloud_enterprises"]["value"] == "3"
    assert set(s["targets"]) == {
        "tech_smes",
        "net_new_above_scale",
        "champion_candidates",
        "champions",
        "cloud_enterprises",
        "champion_cnc_rate",
        "high_tech",
        "parks",
        "park_tenants",
        "star_parks",
        "national_demo_bases",
        "service_institutions",
        "county_platform_coverage",
        "industrial_apps",
        "tech_trade",
        "export_support_funds",
        "special_credit_fund",
        "customs_clearance_time",
    }


async def test_titles_count_as_of_today_and_groups_by_city(c, as_, db):
    await arrange(db)
    year = today_shanghai().year
    s = (await c.get("/v1/stats", params={"year": year, "group_by": "city"}, headers=as_())).json()
    assert (s["figures"]["tech_smes"], s["figures"]["high_tech"]) == (3, 1)
    groups = {g["region_code"]: g for g in s["groups"]}
    assert set(groups) == {"330100", "330200"}
    assert groups["330100"]["region_name"] == "杭州市"
    assert (groups["330100"]["figures"]["tech_smes"], groups["330200"]["figures"]["tech_smes"]) == (2, 1)
    # Pool now: hz1 champion_candidate, hz2 champion (Hangzhou); nb1, nb2 seedling (Ningbo).
    assert groups["330200"]["pool"]["seedling"] == 2 and groups["330100"]["pool"]["champion"] == 1


async def test_officials_see_only_their_region(c, as_, db):
    await arrange(db)
    county = as_("official", region="330212")
    s = (await c.get("/v1/stats", params={"year": 2022}, headers=county)).json()
    # Ningbo 鄞州: nb1 not above at the 2019 baseline (no exit), nb2 a new entrant (not counted)
    # → net 0; one seedling (nb1); cloud: nb1.
    assert s["region"] == "330212"
    assert (s["figures"]["net_new_above_scale"], s["figures"]["cloud_enterprises"]) == (0, 1)
    assert s["pool"]["seedling"] == 1 and s["figures"]["parks"] == 0
    r = await c.get("/v1/stats", params={"region": "3301"}, headers=county)
    assert r.status_code == 403
    r = await c.get("/v1/stats", params={"year": 2022, "baseline_year": 2022}, headers=county)
    assert r.status_code == 422


async def test_region_codes_and_prefixes_mean_the_same_region(c, as_, db):
    """330000 is the province and 330100 is Hangzhou, as 33 and 3301 are (the bulletin sends 6 digits)."""
    await arrange(db)
    province = as_("official", region="330000")

    async def figures(region):
        r = await c.get("/v1/stats", params={"year": 2022, "region": region}, headers=province)
        assert r.status_code == 200, r.text
        return r.json()["figures"]

    assert await figures("330000") == await figures("33")
    assert await figures("330100") == await figures("3301")
    assert (await figures("330100"))["parks"] == 2
    hangzhou = as_("official", region="330100")
    r = await c.get("/v1/stats", params={"year": 2022, "region": "330100"}, headers=hangzhou)
    assert r.status_code == 200 and r.json()["figures"]["parks"] == 2
