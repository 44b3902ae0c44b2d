"""Service institutions and platforms (省级以上示范服务机构/平台), reported figures (other
departments' figures, corrections appended) and the registry statistics they give the bulletin."""

import pytest

from tests.registry_data import new_credit_code

PROVINCE = {"kind": "official", "region": "330000"}
HANGZHOU = {"kind": "official", "region": "330100"}
_code = new_credit_code("330106", "52")
WRONG_CHECKSUM = _code[:-1] + ("0" if _code[-1] != "0" else "1")  # a real code, its check character changed


def institution(region, kind="platform", level="provincial", recognised_on="2021-06-01", **kw):
    return {
        "name": kw.pop("name", f"{region} {kind} {recognised_on}"),
        "credit_code": kw.pop("credit_code", new_credit_code(region, "52")),
        "region_code": region,
        "kind": kind,
        "level": level,
        "recognised_on": recognised_on,
        **kw,
    }


async def _post(c, path, body, headers):
    r = await c.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _stats(c, as_, region, year=2022):
    r = await c.get("/v1/stats", params={"year": year, "region": region}, headers=as_())
    assert r.status_code == 200, r.text
    return r.json()


async def test_institutions_coverage_and_demo_bases_on_a_crafted_dataset(client_for, as_):
    c = client_for("registry")
    h = as_()
    for body in (
        institution("330106"),  # 西湖区: two platforms, one county covered
        institution("330106", level="national"),
        institution("330108"),  # 滨江区: one platform
        institution("330110", kind="institution"),  # 余杭区: an institution, no platform
        institution("330122", recognised_on="2023-03-01"),  # 桐庐县: recognised after 2022
        institution("330203"),  # 宁波 海曙区: another city
    ):
        await _post(c, "/v1/service-institutions", body, h)
    for park in (
        {"name": "示范园", "region_code": "330106", "national_demo_base": True},
        {"name": "新示范园", "region_code": "330108", "national_demo_base": True, "opened_on": "2023-05-01"},
        {"name": "普通园", "region_code": "330108", "national_demo_base": False},
    ):
        await _post(c, "/v1/parks", park, h)

    city = await _stats(c, as_, "330100")
    f = city["figures"]
    # recognised by 2022-12-31 in 杭州: 2 (西湖) + 1 (滨江) + 1 (余杭) = 4 (桐庐's is 2023, 海曙 is 宁波)
    assert f["service_institutions"] == 4
    # counties with a platform: 西湖, 滨江 = 2 of 杭州's 13 current counties → 2 / 13 × 100 = 15.38
    assert f["county_platform_coverage"] == "15.38"
    # demo bases: 示范园 only (新示范园 opens in 2023, 普通园 is not one)
    assert f["national_demo_bases"] == 1
    assert city["targets"]["national_demo_bases"]["value"] == "1"
    assert city["targets"]["service_institutions"]["value"] == "4"
    assert city["targets"]["county_platform_coverage"]["value"] == "15.38"
    # a county is covered or not: 100 or 0
    assert (await _stats(c, as_, "330106"))["figures"]["county_platform_coverage"] == "100.00"
    assert (await _stats(c, as_, "330110"))["figures"]["county_platform_coverage"] == "0.00"
    # 2023: 桐庐 joins → 3 / 13 × 100 = 23.08; 5 institutions in 杭州
    later = (await _stats(c, as_, "330100", 2023))["figures"]
    assert (later["county_platform_coverage"], later["service_institutions"]) == ("23.08", 5)
    # 宁波: 1 of its 10 current counties → 10.00
    assert (await _stats(c, as_, "330200"))["figures"]["county_platform_coverage"] == "10.00"


async def test_an_official_records_and_reads_institutions_of_its_own_region_only(client_for, as_):
    c = client_for("registry")
    ningbo = await _post(c, "/v1/service-institutions", institution("330203"), as_())
    mine = await _post(c, "/v1/service-institutions", institution("330106"), as_(**HANGZHOU))
    r = await c.post("/v1/service-institutions", json=institution("330212"), headers=as_(**HANGZHOU))
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
    assert r.json()["errors"][0]["pointer"] == "/region_code"
    r = await c.get(f"/v1/service-institutions/{ningbo['id']}", headers=as_(**HANGZHOU))
    assert r.status_code == 404
    r = await c.get(f"/v1/service-institutions/{mine['id']}", headers=as_(**HANGZHOU))
    assert r.status_code == 200 and r.json()["credit_code"] == mine["credit_code"]
    r = await c.get("/v1/service-institutions", headers=as_(**HANGZHOU))
    assert [i["id"] for i in r.json()["items"]] == [mine["id"]]
    r = await c.get("/v1/service-institutions", params={"region": "3302"}, headers=as_(**HANGZHOU))
    assert r.status_code == 403 and r.json()["errors"][0]["pointer"] == "#/query/region"
    r = await c.get("/v1/service-institutions", params={"region": "330200"}, headers=as_())
    assert [i["id"] for i in r.json()["items"]] == [ningbo["id"]]
    r = await c.get("/v1/service-institutions", headers=as_("bank", org="B-INST"))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"credit_code": WRONG_CHECKSUM}, "/credit_code"),
        ({"region_code": "330104"}, "/region_code"),  # 江干区, retired in 2021
        ({"region_code": "330100"}, "/region_code"),  # a city, not a county
        ({"kind": "lab"}, "/kind"),
        ({"level": "municipal"}, "/level"),
        ({"recognised_on": "2022-02-30"}, "/recognised_on"),
        ({"name": "a\u0000b"}, "/name"),
        ({"owner": "x"}, "/owner"),
    ],
)
async def test_hostile_institutions_are_422_with_a_pointer_and_nothing_written(
    client_for, as_, db, change, pointer
):
    r = await client_for("registry").post(
        "/v1/service-institutions", json={**institution("330106"), **change}, headers=as_()
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert pointer in [e["pointer"] for e in r.json()["errors"]], r.text
    assert await db.fetchval("SELECT count(*) FROM registry.service_institutions") == 0


async def test_one_credit_code_is_one_institution(client_for, as_):
    c = client_for("registry")
    body = institution("330106")
    await _post(c, "/v1/service-institutions", body, as_())
    r = await c.post("/v1/service-institutions", json={**body, "kind": "institution"}, headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "service_institution_exists"
    assert r.json()["errors"][0]["pointer"] == "/credit_code"


def figure(key="tech_trade", value="100000000000.00", period_end="2022-12-31", **kw):
    unit = {"industrial_apps": "apps", "customs_clearance_time": "percent"}.get(key, "yuan")
    return {"key": key, "region": "330000", "period_end": period_end, "value": value, "unit": unit,
            "source_document": "省科技厅 2022年技术市场统计", **kw}  # fmt: skip


async def test_a_correction_replaces_the_figure_and_the_history_keeps_both(client_for, as_):
    c = client_for("registry")
    first = await _post(c, "/v1/reported-figures", figure(), as_(**PROVINCE))
    fixed = await _post(
        c,
        "/v1/reported-figures",
        figure(value="120500000000.00", source_document="省科技厅 关于更正2022年技术交易额的函"),
        as_(),
    )
    # an earlier period posted afterwards does not replace the year's latest period
    await _post(c, "/v1/reported-figures", figure(value="50000000000.00", period_end="2022-06-30"), as_())
    # next year's figure is not 2022's
    await _post(c, "/v1/reported-figures", figure(value="9.00", period_end="2023-03-31"), as_())
    # a city's own figure is the city's, not the province's
    await _post(c, "/v1/reported-figures", figure(value="7.00", region="330100"), as_())
    await _post(c, "/v1/reported-figures", figure("industrial_apps", value="51234"), as_())

    stats = await _stats(c, as_, "330000")
    tech = stats["targets"]["tech_trade"]
    assert (tech["value"], tech["source"]) == ("120500000000.00", "省科技厅 关于更正2022年技术交易额的函")
    assert stats["targets"]["industrial_apps"]["value"] == "51234.00"
    assert stats["targets"]["special_credit_fund"]["value"] is None  # nothing reported
    assert (await _stats(c, as_, "330100"))["reported"]["tech_trade"]["value"] == "7.00"

    r = await c.get("/v1/reported-figures", params={"key": "tech_trade", "region": "330000"}, headers=as_())
    history = r.json()["items"]
    assert [h["value"] for h in history] == ["100000000000.00", "120500000000.00", "50000000000.00", "9.00"]
    assert history[0]["id"] == first["id"] and history[1]["id"] == fixed["id"]


async def test_only_the_leadership_office_reports_figures(client_for, as_, db):
    c = client_for("registry")
    for who in (HANGZHOU, {"kind": "official", "region": "330106"}):
        r = await c.post("/v1/reported-figures", json=figure(region="330100"), headers=as_(**who))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    r = await c.post("/v1/reported-figures", json=figure(), headers=as_("bank", org="B-REP"))
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM registry.reported_figures") == 0
    # a city official reads its own region's history, not the province's
    r = await c.get("/v1/reported-figures", params={"region": "330000"}, headers=as_(**HANGZHOU))
    assert r.status_code == 403 and r.json()["errors"][0]["pointer"] == "#/query/region"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"key": "gdp"}, "/key"),
        ({"unit": "apps"}, "/unit"),  # tech_trade is counted in yuan
        ({"unit": "km"}, "/unit"),
        ({"value": "-1"}, "/value"),
        ({"value": "1.234"}, "/value"),
        ({"value": "NaN"}, "/value"),
        ({"region": "330104"}, "/region"),  # retired
        ({"region": "990000"}, "/region"),
        ({"period_end": "2022-13-01"}, "/period_end"),
        ({"source_document": "  "}, "/source_document"),
        ({"source_document": "x\u202e"}, "/source_document"),
        ({"id": 1}, "/id"),
    ],
)
async def test_hostile_reported_figures_are_422_with_a_pointer(client_for, as_, db, change, pointer):
    r = await client_for("registry").post("/v1/reported-figures", json={**figure(), **change}, headers=as_())
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert pointer in [e["pointer"] for e in r.json()["errors"]], r.text
    assert await db.fetchval("SELECT count(*) FROM registry.reported_figures") == 0
