"""The progress bulletin per region, every commitment a row, and published bulletins that never
change (定期通报进展)."""

import io
from decimal import Decimal

import asyncpg
import pytest
from openpyxl import load_workbook

from gateway.progress.bulletins import sha256_of
from services.common.targets import indicators_of
from tests.gateway.conftest import bearer
from tests.registry_data import new_credit_code

# Every quantitative commitment of the programme text (../shared/programme.md), as issue 14 lists them.
COMMITMENTS = [
    "tech_smes", "net_new_above_scale", "champion_candidates", "champions", "cloud_enterprises",
    "champion_cnc_rate", "adoption_rate", "intl_standards_led", "zhejiang_made_standards",
    "pinzibiao_smes", "high_tech", "smb_new_loans", "two_increases", "parks", "park_tenants",
    "star_parks", "national_demo_bases", "industrial_apps", "service_institutions",
    "county_platform_coverage", "tech_trade", "export_support_funds", "special_credit_fund",
    "customs_clearance_time",
]  # fmt: skip


@pytest.fixture(autouse=True)
async def _forget_set_targets(db):
    yield
    await db.execute("DELETE FROM registry.programme_targets WHERE data_version LIKE 'set by %'")


async def _park(http, gw, key, name, region):
    r = await http.post(
        f"{gw.url}/registry/v1/parks", json={"name": name, "region_code": region}, headers=bearer(key)
    )
    assert r.status_code == 201, r.text


async def test_every_commitment_is_a_row_and_an_untracked_one_says_why(gateway_live, db, new_client, http):
    assert [i.key for i in await indicators_of(db, "chuying-2022")] == COMMITMENTS
    _, official = await new_client("official", region="330000")
    r = await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330000", headers=bearer(official))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["key"] for i in items] == COMMITMENTS
    for i in items:
        assert (i["status"] == "not_tracked") == (i["actual"] is None), i
        assert (i["reason"] is not None) == (i["status"] == "not_tracked"), i
        assert i["source_document"].startswith("浙江省“雏鹰行动”实施意见"), i
    rows = {i["key"]: i for i in items}
    # a figure without data is not_tracked with the reason, never missing: no bank has reported
    # its loan book here, so no lender is assessed for 两增
    assert rows["two_increases"]["status"] == "not_tracked"
    assert rows["two_increases"]["reason_code"] == "no_data"
    assert rows["smb_new_loans"]["settled"] is False and rows["tech_smes"]["settled"] is True


async def test_a_city_report_shows_the_citys_own_targets_never_the_provinces(gateway_live, new_client, http):
    _, province = await new_client("official", region="330000")
    _, city = await new_client("official", region="330100")
    r = await http.put(
        f"{gateway_live.url}/registry/v1/targets/chuying-2022/2022/330100",
        json={"items": [{"key": "parks", "target": "120", "unit": "parks"}]},
        headers=bearer(province),
    )
    assert r.status_code == 200, r.text
    await _park(http, gateway_live, province, "云栖园", "330106")
    await _park(http, gateway_live, province, "甬江园", "330203")
    report = (
        await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330100", headers=bearer(city))
    ).json()
    rows = {i["key"]: i for i in report["items"]}
    assert [i["key"] for i in report["items"]] == COMMITMENTS
    # parks: the city's one park (the 宁波 one is not the city's) against the city's target 120
    assert (Decimal(rows["parks"]["actual"]), Decimal(rows["parks"]["target"])) == (1, 120)
    assert rows["parks"]["status"] == "behind" or rows["parks"]["status"] == "on_track"
    # star_parks has a province target (100) and none for the city: target null, no_target
    assert rows["star_parks"]["target"] is None and rows["star_parks"]["status"] == "no_target"
    assert Decimal(rows["star_parks"]["actual"]) == 0
    # a city official may not set targets, not even its own
    r = await http.put(
        f"{gateway_live.url}/registry/v1/targets/chuying-2022/2022/330100",
        json={"items": []},
        headers=bearer(city),
    )
    assert r.status_code == 403


async def test_a_published_bulletin_answers_the_same_numbers_and_hash_after_the_data_changes(
    gateway_live, new_client, http
):
    _, official = await new_client("official", region="330000")
    h = bearer(official)
    await _park(http, gateway_live, official, "一号园", "330106")
    r = await http.post(
        f"{gateway_live.url}/v1/progress/bulletins", json={"year": 2022, "region": "330000"}, headers=h
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["number"] == "2022-330000-01"
    assert first["content_sha256"] == sha256_of(first["bulletin"])
    parks = next(i for i in first["bulletin"]["items"] if i["key"] == "parks")
    assert Decimal(parks["actual"]) == 1

    await _park(http, gateway_live, official, "二号园", "330106")  # the data moves on
    live = (await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330000", headers=h)).json()
    assert Decimal(next(i for i in live["items"] if i["key"] == "parks")["actual"]) == 2

    again = (await http.get(f"{gateway_live.url}/v1/progress/bulletins/{first['id']}", headers=h)).json()
    assert again == first  # same numbers, same as_of, same hash
    second = (
        await http.post(
            f"{gateway_live.url}/v1/progress/bulletins", json={"year": 2022, "region": "330000"}, headers=h
        )
    ).json()
    assert second["number"] == "2022-330000-02" and second["content_sha256"] != first["content_sha256"]
    listed = (
        await http.get(f"{gateway_live.url}/v1/progress/bulletins?year=2022&region=330000", headers=h)
    ).json()
    assert [b["number"] for b in listed["items"]] == ["2022-330000-01", "2022-330000-02"]

    x = await http.get(f"{gateway_live.url}/v1/progress/bulletins/{first['id']}?format=xlsx", headers=h)
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    assert "2022-330000-01" in ws["A2"].value and first["content_sha256"] in ws["A2"].value
    row = next(r for r in ws.iter_rows() if r[1].value == "parks")
    assert row[4].data_type == "n" and row[4].value == 1  # the published figure, as a number
    assert row[5].value == "个" and row[9].value.startswith("企业库服务") and row[10].value == "是"
    loans = next(r for r in ws.iter_rows() if r[1].value == "smb_new_loans")
    assert loans[5].value == "元" and loans[10].value == "否(待确定)" and "亿" in loans[12].value


async def test_the_database_refuses_to_edit_or_remove_a_published_bulletin(db):
    """gateway/progress/db.py: the owner's UPDATE and DELETE are refused too."""
    await db.execute(
        "INSERT INTO gateway.published_bulletins (number, programme, year, region_code, sequence, as_of, "
        "content, content_sha256, published_by) VALUES ('2022-330000-01', 'chuying-2022', 2022, '330000', 1, "
        "now(), '{}'::jsonb, repeat('0', 64), 'official:330000')"
    )
    for statement in (
        "UPDATE gateway.published_bulletins SET content = '{\"items\": []}'::jsonb",
        "DELETE FROM gateway.published_bulletins",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="immutable"):
            await db.execute(statement)
    assert await db.fetchval("SELECT content FROM gateway.published_bulletins") == "{}"


async def test_a_city_official_neither_publishes_nor_reads_another_citys_bulletin(
    gateway_live, new_client, http
):
    _, hangzhou = await new_client("official", region="330100")
    _, ningbo = await new_client("official", region="330200")
    r = await http.post(
        f"{gateway_live.url}/v1/progress/bulletins",
        json={"year": 2022, "region": "330200"},
        headers=bearer(hangzhou),
    )
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
    r = await http.post(
        f"{gateway_live.url}/v1/progress/bulletins",
        json={"year": 2022, "region": "330200"},
        headers=bearer(ningbo),
    )
    assert r.status_code == 201, r.text
    ningbo_id = r.json()["id"]
    r = await http.get(f"{gateway_live.url}/v1/progress/bulletins/{ningbo_id}", headers=bearer(hangzhou))
    assert r.status_code == 404
    r = await http.get(
        f"{gateway_live.url}/v1/progress/bulletins?year=2022&region=330200", headers=bearer(hangzhou)
    )
    assert r.status_code == 403
    _, bank = await new_client("bank", org="B-BUL")
    r = await http.post(
        f"{gateway_live.url}/v1/progress/bulletins",
        json={"year": 2022, "region": "330200"},
        headers=bearer(bank),
    )
    assert r.status_code == 403
    for body, pointer in (
        ({"year": 2022, "region": "33010"}, "/region"),
        ({"year": 1800, "region": "330100"}, "/year"),
    ):
        r = await http.post(f"{gateway_live.url}/v1/progress/bulletins", json=body, headers=bearer(hangzhou))
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == pointer, r.text


async def test_trend_gives_target_actual_and_status_per_year(gateway_live, new_client, http):
    _, province = await new_client("official", region="330000")
    await http.put(
        f"{gateway_live.url}/registry/v1/targets/chuying-2022/2021/330100",
        json={"items": [{"key": "parks", "target": "1", "unit": "parks"}]},
        headers=bearer(province),
    )
    await _park(http, gateway_live, province, "三号园", "330106")
    r = await http.get(
        f"{gateway_live.url}/v1/progress/trend?key=parks&region=330100&from_year=2021&to_year=2022",
        headers=bearer(province),
    )
    assert r.status_code == 200, r.text
    points = {p["year"]: p for p in r.json()["points"]}
    assert (
        Decimal(points[2021]["target"]) == 1 and points[2021]["status"] == "met"
    )  # the park has no opening date
    assert points[2022]["target"] is None and points[2022]["status"] == "no_target"
    r = await http.get(
        f"{gateway_live.url}/v1/progress/trend?key=parks&region=330100&from_year=2022&to_year=2010",
        headers=bearer(province),
    )
    assert r.status_code == 422 and r.json()["code"] == "trend_span"


async def test_institutions_demo_bases_and_reported_figures_are_bulletin_rows_naming_their_source(
    gateway_live, new_client, http
):
    _, official = await new_client("official", region="330000")
    h, reg = bearer(official), f"{gateway_live.url}/registry/v1"
    r = await http.post(
        f"{reg}/parks",
        json={"name": "示范基地园", "region_code": "330106", "national_demo_base": True},
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = await http.post(
        f"{reg}/service-institutions",
        json={"name": "西湖区中小企业公共服务平台", "credit_code": new_credit_code("330106", "52"),
              "region_code": "330106", "kind": "platform", "level": "provincial", "recognised_on": "2022-03-01"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    for value, source in (("30.00", "省商务厅 2022年通关时间通报"), ("35.10", "省商务厅 更正函")):
        r = await http.post(
            f"{reg}/reported-figures",
            json={"key": "customs_clearance_time", "region": "330000", "period_end": "2022-12-31",
                  "value": value, "unit": "percent", "source_document": source},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    _, city = await new_client("official", region="330100")
    r = await http.post(
        f"{reg}/reported-figures",
        json={"key": "tech_trade", "region": "330100", "period_end": "2022-12-31", "value": "1.00",
              "unit": "yuan", "source_document": "x"},
        headers=bearer(city),
    )  # fmt: skip
    assert r.status_code == 403

    report = (await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330000", headers=h)).json()
    rows = {i["key"]: i for i in report["items"]}
    assert Decimal(rows["national_demo_bases"]["actual"]) == 1
    assert Decimal(rows["service_institutions"]["actual"]) == 1
    # the correction wins (35.10 ≥ the target 33.33: met), and the row names its document
    clearance = rows["customs_clearance_time"]
    assert (Decimal(clearance["actual"]), clearance["status"]) == (Decimal("35.10"), "met")
    assert clearance["source"] == "省商务厅 更正函"
    # reported keys with nothing reported say so (no_data), no longer "not reported by the statistics"
    for key in ("industrial_apps", "tech_trade", "export_support_funds", "special_credit_fund"):
        assert rows[key]["status"] == "not_tracked" and rows[key]["reason_code"] == "no_data", rows[key]
    for key in ("national_demo_bases", "service_institutions", "county_platform_coverage"):
        assert rows[key]["reason_code"] is None and rows[key]["source"] is None, rows[key]
    x = await http.get(f"{gateway_live.url}/v1/progress?year=2022&region=330000&format=xlsx", headers=h)
    row = next(
        r
        for r in load_workbook(io.BytesIO(x.content)).active.iter_rows()
        if r[1].value == "customs_clearance_time"
    )
    assert row[4].value == 35.1 and "数据来源: 省商务厅 更正函" in row[12].value
