"""净增小升规 and 企业上云 as the programme counts them (domain.md §1, §4), on a crafted dataset;
every expected number is worked out by hand in the comments.

净增小升规 is cumulative from the programme baseline (the end of 2019) to the end of the year:
industrial (B, C, D) enterprises whose scale fact before they became above was `below` (entries),
minus those above at the baseline and below at the year end (exits). An enterprise whose first
fact is above (新建投产) is listed, not counted. 企业上云 is a stock: enterprises that have reported
on_cloud for any year up to the year.
"""

import pytest

from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def arrange(db):
    e = {}
    # name: (region, industry, scale facts (status, effective year), years reporting on_cloud)
    plan = {
        "a": ("330106", "3311", [("below", 2018), ("above", 2020)], [2020]),
        "b": ("330106", "3311", [("below", 2019), ("above", 2022)], [2021, 2022]),
        "c": ("330106", "3311", [("above", 2021)], [2023]),  # first fact above: 新建投产
        "d": ("330106", "3311", [("above", 2017), ("below", 2021)], []),  # exits in 2021
        "e": ("330106", "5211", [("below", 2019), ("above", 2021)], [2021]),  # 百货零售 (F): not industrial
        "f": ("330106", "4411", [("below", 2019), ("above", 2020), ("below", 2021), ("above", 2022)], [2022]),
        "g": ("330212", "0610", [("above", 2020), ("below", 2021), ("above", 2022)], []),  # B, Ningbo
    }
    for name, (region, industry, facts, cloud_years) in plan.items():
        e[name] = code = await add_enterprise(db, region_code=region, industry_code=industry, scale=facts)
        for year in cloud_years:
            await db.execute(
                "INSERT INTO registry.indicators (credit_code, year, on_cloud) VALUES ($1, $2, true)",
                code,
                year,
            )
    # a reports 2021 without on_cloud: it has been on the cloud (2020) and stays in the stock.
    await db.execute(
        "INSERT INTO registry.indicators (credit_code, year, on_cloud) VALUES ($1, 2021, false)", e["a"]
    )
    return e


async def stats(c, headers, **params):
    r = await c.get("/v1/stats", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def scale(s):
    f = s["figures"]
    return (
        f["net_new_above_scale"],
        f["above_scale_entries"],
        f["above_scale_exits"],
        f["above_scale_new_entrants"],
    )


async def test_net_new_above_scale_is_cumulative_from_the_baseline(c, as_, db):
    e = await arrange(db)
    province = as_("official", region="330000")

    s = await stats(c, province, year=2020)
    assert s["baseline_year"] == 2019
    # 2020: entries a (below 2018 → above 2020), f (below 2019 → above 2020); g's first fact is
    # above: a new entrant; d above since 2017: no change; e not industrial → 2 − 0 = 2.
    assert scale(s) == (2, 2, 0, 1)
    assert [x["credit_code"] for x in s["above_scale_new_entrants"]] == [e["g"]]

    s = await stats(c, province, year=2021)
    # 2021: entries a; f back below; exit d (above at the 2019 baseline, below 2021); new entrant
    # c (g is below again: not listed) → 1 − 1 = 0.
    assert scale(s) == (0, 1, 1, 1)
    assert s["above_scale_new_entrants"] == [
        {"credit_code": e["c"], "name": "浙江测试实业有限公司", "region_code": "330106", "year": 2021}
    ]

    s = await stats(c, province, year=2022)
    # 2022: entries a, b, f (its fact before 2022 is below), g (its fact before 2022 is below,
    # though its first was above) = 4; exit d; new entrant c → 4 − 1 = 3.
    assert scale(s) == (3, 4, 1, 1)
    # Above (industrial) at end 2022: a, b, c, f, g = 5; at end 2019: d = 1;
    # 5 − 1 = entries 4 + new entrants 1 − exits 1.
    f = s["figures"]
    assert (f["above_scale"], f["above_scale_baseline"]) == (5, 1)
    assert s["targets"]["net_new_above_scale"]["value"] == "3"


async def test_another_baseline_and_a_region(c, as_, db):
    e = await arrange(db)
    s = await stats(c, as_("official", region="330000"), year=2022, baseline_year=2021)
    # At end 2021: a above, b below, c above, d below, f below, g below.
    # Entries b, f, g = 3; no exit (d was already below); no new entrant (c above at the baseline).
    assert scale(s) == (3, 3, 0, 0) and s["above_scale_new_entrants"] == []

    # Ningbo 鄞州 holds g only: an entry in 2022 (from below), a new entrant in 2020.
    county = as_("official", region="330212")
    assert scale(await stats(c, county, year=2022)) == (1, 1, 0, 0)
    s = await stats(c, county, year=2020)
    assert scale(s) == (0, 0, 0, 1)
    assert [x["credit_code"] for x in s["above_scale_new_entrants"]] == [e["g"]]
    # Hangzhou's official does not see Ningbo's entrant.
    s = await stats(c, as_("official", region="330100"), year=2020)
    assert scale(s) == (2, 2, 0, 0) and s["above_scale_new_entrants"] == []


async def test_a_year_not_after_the_baseline_is_measured_against_the_year_before(c, as_, db):
    await arrange(db)
    s = await stats(c, as_("official", region="330000"), year=2019)
    # Baseline 2018: d above (2017), a below (2018) → end 2019 unchanged: no entry, no exit.
    assert s["baseline_year"] == 2018 and scale(s) == (0, 0, 0, 0)


async def test_cloud_enterprises_are_a_stock(c, as_, db):
    await arrange(db)
    province = as_("official", region="330000")

    async def cloud(year):
        return (await stats(c, province, year=year))["figures"]["cloud_enterprises"]

    # By 2020: a. By 2021: a (still counted after a 2021 report without on_cloud), b, e
    # (not industrial, still 上云). By 2022: a, b (counted once for 2021 and 2022), e, f.
    # By 2023: and c → 5.
    assert [await cloud(y) for y in (2020, 2021, 2022, 2023)] == [1, 3, 4, 5]
