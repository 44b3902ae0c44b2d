"""Enterprises: registration rules, region scoping, search, batch and export."""

import csv
import io
import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from services.common.credit_code import make_credit_code
from services.common.today import TODAY_SQL, today_shanghai
from tests.registry_data import add_enterprise, new_credit_code

HZ_XIHU, NB_YINZHOU = "330106", "330212"


@pytest.fixture
def c(client_for):
    return client_for("registry")


def body(**kw):
    base = {
        "credit_code": new_credit_code(HZ_XIHU),
        "name": "杭州雏鹰精密机械有限公司",
        "region_code": HZ_XIHU,
        "industry_code": "3484",
        "established_on": "2012-05-01",
        "registered_capital": "5000000",
        "address": "杭州市西湖区文三路1号",
    }
    base.update(kw)
    return base


async def test_register_then_read_with_money_as_string(c, as_, db):
    b = body()
    r = await c.post("/v1/enterprises", json=b, headers=as_("official", region="330100"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["registered_capital"] == "5000000.00" and out["city_code"] == "330100"
    assert out["region_name"] == "西湖区" and out["industry_section"] == "C"
    got = await c.get(f"/v1/enterprises/{b['credit_code'].lower()}", headers=as_())
    assert got.status_code == 200 and got.json()["name"] == b["name"]
    # the detail and the list item read the same record the create answered, byte for byte as JSON
    assert got.json() == out and list(got.json()) == list(out)
    listed = await c.get("/v1/enterprises", params={"q": b["credit_code"]}, headers=as_())
    assert listed.json()["items"] == [out]
    change = await db.fetchrow("SELECT * FROM registry.changes WHERE entity_key = $1", b["credit_code"])
    assert change["action"] == "created" and change["actor_kind"] == "official"


async def test_existing_credit_code_is_a_409(c, as_):
    b = body()
    assert (await c.post("/v1/enterprises", json=b, headers=as_())).status_code == 201
    r = await c.post("/v1/enterprises", json=b, headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "enterprise_exists"


async def test_wrong_check_character_is_a_422_naming_the_expected_one(c, as_):
    good = make_credit_code("91330106MA2ABCDE1")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = await c.post("/v1/enterprises", json=body(credit_code=bad), headers=as_())
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["pointer"] == "/credit_code" and f"expected {good[17]}" in err["message"]


async def test_unknown_region_industry_and_negative_money_are_422(c, as_):
    for field, value in (("region_code", "330199"), ("industry_code", "9999"), ("registered_capital", "-1")):
        r = await c.post("/v1/enterprises", json=body(**{field: value}), headers=as_())
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == f"/{field}", field


async def test_a_retired_region_is_refused_naming_its_successors(c, as_):
    r = await c.post("/v1/enterprises", json=body(region_code="330104"), headers=as_())
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["pointer"] == "/region_code"
    assert "retired on 2021-03-11" in err["message"] and "330102 上城区" in err["message"]
    assert "330114 钱塘区" in err["message"]


async def test_only_real_2017_classes_are_an_industry(c, as_):
    """reference/industries.py: a 2011-only code is told its 2017 classes; a class ending in 0 is real."""
    r = await c.post("/v1/enterprises", json=body(industry_code="6420"), headers=as_())
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert (
        err["pointer"] == "/industry_code" and "GB/T 4754-2011" in err["message"] and "6421" in err["message"]
    )
    for real in ("1200", "9700"):
        r = await c.post("/v1/enterprises", json=body(industry_code=real), headers=as_())
        assert r.status_code == 201, r.text


async def test_county_official_sees_404_outside_their_county_and_cannot_admit(c, as_, db):
    ningbo = await add_enterprise(db, region_code=NB_YINZHOU)
    xihu = await add_enterprise(db, region_code=HZ_XIHU)
    county = as_("official", region=HZ_XIHU)
    assert (await c.get(f"/v1/enterprises/{ningbo}", headers=county)).status_code == 404
    assert (await c.get(f"/v1/enterprises/{xihu}", headers=county)).status_code == 200
    r = await c.post(
        "/v1/pool/decisions",
        json={"credit_code": ningbo, "tier": "seedling", "year": 2022, "decision": "admit"},
        headers=county,
    )
    assert r.status_code == 404
    assert await db.fetchval("SELECT tier FROM registry.enterprises WHERE credit_code = $1", ningbo) is None
    r = await c.patch(f"/v1/enterprises/{ningbo}", json={"name": "x"}, headers=county)
    assert r.status_code == 404
    # The province official sees both; the list of the county official only its own.
    assert (
        await c.get(f"/v1/enterprises/{ningbo}", headers=as_("official", region="330000"))
    ).status_code == 200
    listed = (await c.get("/v1/enterprises", headers=county)).json()["items"]
    assert [e["credit_code"] for e in listed] == [xihu]
    r = await c.post("/v1/enterprises", json=body(region_code=NB_YINZHOU), headers=county)
    assert r.status_code == 403


async def test_banks_read_only_the_directory_record(c, as_, db):
    code = await add_enterprise(db, region_code=NB_YINZHOU, sizes={2022: "small"}, tier="seedling")
    bank = as_("bank", org="B001")
    r = await c.get(f"/v1/enterprises/{code}", headers=bank)
    assert r.status_code == 200
    assert (
        r.json()["size_class"] == "small" and r.json()["tier"] == "seedling" and r.json()["address"] is None
    )
    assert (await c.get("/v1/enterprises", headers=bank)).status_code == 403
    assert (await c.post("/v1/enterprises", json=body(), headers=bank)).status_code == 403


async def test_patch_changes_fields_and_logs_before_and_after(c, as_, db):
    code = await add_enterprise(db, name="旧名称有限公司")
    r = await c.patch(
        f"/v1/enterprises/{code}", json={"name": "新名称有限公司", "industry_code": "3441"}, headers=as_()
    )
    assert (
        r.status_code == 200 and r.json()["name"] == "新名称有限公司" and r.json()["industry_code"] == "3441"
    )
    change = await db.fetchrow(
        "SELECT before, after FROM registry.changes WHERE entity_key = $1 AND action = 'updated'", code
    )
    assert '"旧名称有限公司"' in change["before"] and '"新名称有限公司"' in change["after"]


async def test_list_filters_and_keyset_pages(c, as_, db):
    codes = []
    for i in range(5):
        codes.append(await add_enterprise(db, region_code="330106", tier="seedling" if i % 2 else None))
    other = await add_enterprise(db, region_code="330212", tier="seedling", titles=["tech_sme"])
    admin = as_()
    hz = (await c.get("/v1/enterprises", params={"region": "3301", "limit": 2}, headers=admin)).json()
    seen = [e["credit_code"] for e in hz["items"]]
    while hz["next_cursor"]:
        hz = (
            await c.get(
                "/v1/enterprises",
                params={"region": "3301", "limit": 2, "cursor": hz["next_cursor"]},
                headers=admin,
            )
        ).json()
        seen += [e["credit_code"] for e in hz["items"]]
    assert seen == sorted(codes)
    tiered = (await c.get("/v1/enterprises", params={"tier": "seedling"}, headers=admin)).json()["items"]
    assert {e["credit_code"] for e in tiered} == {codes[1], codes[3], other}
    titled = (await c.get("/v1/enterprises", params={"title": "tech_sme"}, headers=admin)).json()["items"]
    assert [e["credit_code"] for e in titled] == [other] and titled[0]["titles"] == ["tech_sme"]
    section = (
        await c.get("/v1/enterprises", params={"industry": "C", "region": "3302"}, headers=admin)
    ).json()
    assert [e["credit_code"] for e in section["items"]] == [other]
    r = await c.get("/v1/enterprises", params={"cursor": "forged.cursor"}, headers=admin)
    assert r.status_code == 400


async def test_a_list_cursor_pages_on_only_for_its_official_and_its_filters(c, as_, db):
    """An official's cursor continues that official's list with those filters; another official
    (even of the same region), other filters or a search get a 400 `invalid_cursor`."""
    for _ in range(3):
        await add_enterprise(db, region_code=HZ_XIHU, name="杭州游标测试有限公司")
    zhang = as_("official", region="330100", sub="official:zhang")
    first = (await c.get("/v1/enterprises", params={"region": "3301", "limit": 2}, headers=zhang)).json()
    cursor = first["next_cursor"]
    assert cursor
    nxt = await c.get(
        "/v1/enterprises", params={"region": "3301", "limit": 2, "cursor": cursor}, headers=zhang
    )
    assert nxt.status_code == 200 and len(nxt.json()["items"]) == 1
    for params, headers in [
        ({"region": "3301"}, as_("official", region="330100", sub="official:li")),
        (
            {"region": "3301"},
            as_("official", region="330000", sub="official:zhang"),
        ),  # same sub, other region
        ({"region": "3301"}, as_("admin")),
        ({"region": "330106"}, zhang),
        ({}, zhang),
        ({"region": "3301", "q": "杭州游标"}, zhang),  # a search's cursor holds other values
    ]:
        r = await c.get("/v1/enterprises", params={**params, "cursor": cursor}, headers=headers)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["code"] == "invalid_cursor" and r.json()["errors"][0]["pointer"] == "#/query/cursor"


async def test_a_search_cursor_is_bound_to_its_query(c, as_, db):
    for i in range(3):
        await add_enterprise(db, name=f"杭州绑定游标{i}有限公司")
    admin = as_()
    first = (await c.get("/v1/enterprises", params={"q": "杭州绑定游标", "limit": 1}, headers=admin)).json()
    r = await c.get(
        "/v1/enterprises", params={"q": "杭州绑定", "cursor": first["next_cursor"]}, headers=admin
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.get("/v1/enterprises", params={"cursor": first["next_cursor"]}, headers=admin)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.get(
        "/v1/enterprises", params={"q": "杭州绑定游标", "cursor": first["next_cursor"]}, headers=admin
    )
    assert r.status_code == 200 and r.json()["items"][0]["name"] == "杭州绑定游标1有限公司"


async def test_name_search_prefix_contains_and_fuzzy(c, as_, db):
    a = await add_enterprise(db, name="杭州海康精密机械有限公司")
    b = await add_enterprise(db, name="宁波精密机械制造有限公司")
    await add_enterprise(db, name="温州鞋业有限公司")
    admin = as_()

    async def search(q):
        return [
            e["credit_code"]
            for e in (await c.get("/v1/enterprises", params={"q": q}, headers=admin)).json()["items"]
        ]

    assert await search("杭州海康") == [a]  # prefix
    assert set(await search("精密机械")) == {a, b}  # contained
    assert (await search("杭州海康精蜜机械"))[0] == a  # one wrong character: fuzzy
    assert await search(a) == [a]  # exact credit code
    assert await search("不存在的名字") == []


async def searched_names(c, headers, q: str) -> list[str]:
    """The names a search returns, following its cursor through pages of two."""
    seen, cursor = [], None
    while True:
        params = {"q": q, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await c.get("/v1/enterprises", params=params, headers=headers)).json()
        seen += [e["name"] for e in page["items"]]
        if not (cursor := page["next_cursor"]):
            return seen


async def test_a_typo_inside_a_name_still_finds_it_and_closer_names_come_first(c, as_, db):
    """精蜜 for 精密 breaks two of 华东精蜜仪器's five pairs; three shared still match. A name
    sharing four of them ranks above one sharing three, whatever their credit codes."""
    lower, higher = sorted([new_credit_code(), new_credit_code()])
    await add_enterprise(db, credit_code=lower, name="华东精密仪器有限公司")  # shares three
    await add_enterprise(db, credit_code=higher, name="华东精蜜仪表有限公司")  # shares four
    await add_enterprise(db, name="华东纺织有限公司")  # one pair: not a match
    r = await c.get("/v1/enterprises", params={"q": "华东精蜜仪器", "limit": 1}, headers=as_())
    page = r.json()
    assert [e["name"] for e in page["items"]] == ["华东精蜜仪表有限公司"]
    r = await c.get(
        "/v1/enterprises", params={"q": "华东精蜜仪器", "cursor": page["next_cursor"]}, headers=as_()
    )
    assert [e["name"] for e in r.json()["items"]] == ["华东精密仪器有限公司"]
    assert r.json()["next_cursor"] is None


async def test_a_common_word_pages_prefixes_then_names_containing_it(c, as_, db):
    prefix = ["科技创新有限公司", "科技发展有限公司"]
    contained = ["宁波丰科技有限公司", "宁波华科技有限公司", "温州鑫科技有限公司"]
    for name in contained + prefix:
        await add_enterprise(db, name=name)
    await add_enterprise(db, name="宁波科学技术有限公司")  # 科 and 技, not the pair 科技
    assert await searched_names(c, as_(), "科技") == prefix + contained


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("华东精蜜仪器", True),  # one character mistyped (a homophone: 蜜 for 密)
        ("华东精密密仪器", True),  # one character too many
        ("华东精仪器", True),  # one character missing
        ("华南精蜜仪器", False),  # two edits
        ("华东精密仪器科技研蜜院有限", True),  # over 12 characters: two thirds of the pairs shared
    ],
)
async def test_fuzzy_search_finds_names_one_edit_away(c, as_, db, q, found):
    code = await add_enterprise(db, name="华东精密仪器科技研究院有限公司")
    await add_enterprise(db, name="华南纺织有限公司")
    items = (await c.get("/v1/enterprises", params={"q": q}, headers=as_())).json()["items"]
    assert [e["credit_code"] for e in items] == ([code] if found else [])


async def test_batch_reports_each_record_and_commits_the_valid_ones(c, as_, db):
    existing = await add_enterprise(db, name="已登记企业有限公司", industry_code="3311")
    good = body()
    records = [
        good,
        {
            **body(),
            "credit_code": good["credit_code"][:17] + ("0" if good["credit_code"][17] != "0" else "1"),
        },
        {
            "credit_code": existing,
            "name": "已登记企业有限公司",
            "region_code": HZ_XIHU,
            "industry_code": "3311",
            "established_on": "2010-01-01",
        },
        {
            "credit_code": existing,
            "name": "改名企业有限公司",
            "region_code": HZ_XIHU,
            "industry_code": "3311",
        },
        body(region_code=NB_YINZHOU),
    ]
    r = await c.post(
        "/v1/enterprises/batch", json={"records": records}, headers=as_("official", region="330100")
    )
    assert r.status_code == 200, r.text
    out = r.json()
    statuses = [x["status"] for x in out["results"]]
    assert statuses == ["created", "rejected", "unchanged", "rejected", "rejected"]
    assert out["results"][1]["errors"][0]["rule"] == "REG-E001"
    assert out["results"][3]["errors"][0]["rule"] == "REG-E007"
    assert out["results"][4]["errors"][0]["rule"] == "REG-E006"
    assert out["committed"] is True and out["summary"]["created"] == 1
    stamped = await db.fetchval(
        "SELECT rule_set_version FROM registry.enterprises WHERE credit_code = $1", good["credit_code"]
    )
    assert stamped == out["rule_set_version"]


async def test_atomic_batch_writes_nothing_when_a_record_fails(c, as_, db):
    records = [body(), body(industry_code="0000")]
    r = await c.post(
        "/v1/enterprises/batch", params={"atomic": "true"}, json={"records": records}, headers=as_()
    )
    assert r.json()["committed"] is False
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 0


async def test_batch_updates_and_replays_by_idempotency_key(c, as_, db):
    code = await add_enterprise(db, name="旧名有限公司", industry_code="3311")
    rec = {"credit_code": code, "name": "新名有限公司", "region_code": HZ_XIHU, "industry_code": "3311"}
    headers = {**as_(sub="u1"), "Idempotency-Key": "batch-1"}
    r1 = await c.post("/v1/enterprises/batch", json={"records": [rec]}, headers=headers)
    r2 = await c.post("/v1/enterprises/batch", json={"records": [rec]}, headers=headers)
    assert r1.json()["results"][0]["status"] == "updated"
    assert r2.headers.get("idempotent-replayed") == "true" and r2.json() == r1.json()


async def test_a_batch_applies_the_region_rule_before_looking_for_duplicates(c, as_, db):
    """REG-E006 runs before REG-E007, which sees only the records that passed it (the pipeline's
    order: rules, then duplicates). A first occurrence outside the caller's region no longer blocks
    a later one inside it, and a later occurrence outside it is REG-E006, not REG-E007."""
    code = new_credit_code(HZ_XIHU)
    records = [
        body(credit_code=code, region_code=NB_YINZHOU),
        body(credit_code=code),
        body(credit_code=code, region_code=NB_YINZHOU),
        body(credit_code=code),
    ]
    r = await c.post(
        "/v1/enterprises/batch", json={"records": records}, headers=as_("official", region="330100")
    )
    out = r.json()
    assert [x["status"] for x in out["results"]] == ["rejected", "created", "rejected", "rejected"]
    assert [[e["rule"] for e in x["errors"]] for x in out["results"]] == [
        ["REG-E006"],
        [],
        ["REG-E006"],
        ["REG-E007"],
    ]
    assert out["results"][3]["errors"][0]["message"] == f"{code} already appears at record 1"
    assert out["results"][3]["errors"][0]["pointer"] == "/credit_code"


async def test_a_rejected_record_that_parsed_reports_its_normalised_credit_code(c, as_, db):
    """`key` is the credit code as parsed (stripped, upper-cased) for every record that parsed,
    rejected by a rule or by the write as well as accepted; as sent only when it did not parse."""
    outside = new_credit_code(NB_YINZHOU)
    theirs = await add_enterprise(db, region_code=NB_YINZHOU)
    mine = new_credit_code(HZ_XIHU)
    records = [
        body(credit_code=f" {outside.lower()} ", region_code=NB_YINZHOU),  # REG-E006, rule
        body(credit_code=theirs.lower()),  # REG-E006, registered outside the region
        body(credit_code=f" {mine.lower()}"),
        body(credit_code=" 91abc ", industry_code="3484"),  # REG-E001: not parsed
    ]
    r = await c.post(
        "/v1/enterprises/batch", json={"records": records}, headers=as_("official", region="330100")
    )
    out = r.json()
    assert [x["status"] for x in out["results"]] == ["rejected", "rejected", "created", "rejected"]
    assert [x["key"] for x in out["results"]] == [outside, theirs, mine, "91abc"]
    assert out["results"][1]["errors"][0]["message"] == f"{theirs} is registered outside your region"


async def test_csv_and_xlsx_exports_match_the_filtered_list(c, as_, db):
    for i in range(3):
        await add_enterprise(db, name=f"杭州导出测试{i}有限公司", region_code="330106", sizes={2022: "small"})
    await add_enterprise(db, name="宁波不导出有限公司", region_code="330212")
    headers = as_("official", region="330100")
    listed = (await c.get("/v1/enterprises", params={"size": "small"}, headers=headers)).json()["items"]
    r = await c.get("/v1/enterprises/export", params={"format": "csv", "size": "small"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["统一社会信用代码", "企业名称", "行政区划代码"]
    assert [row[0] for row in rows[1:]] == [e["credit_code"] for e in listed]
    assert {row[6] for row in rows[1:]} == {"小型"}
    r = await c.get("/v1/enterprises/export", params={"format": "xlsx", "size": "small"}, headers=headers)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][1] == "企业名称"
    assert [v[0] for v in values[1:]] == [e["credit_code"] for e in listed]
    assert [v[1] for v in values[1:]] == [e["name"] for e in listed]


async def test_a_list_item_is_the_same_record_as_the_detail(c, as_, db):
    code = await add_enterprise(db, region_code="330106", tier="seedling", titles=["tech_sme"])
    await db.execute(
        "UPDATE registry.enterprises SET registered_capital = 1234567.5, address = '文三路 1 号' "
        "WHERE credit_code = $1",
        code,
    )
    admin = as_()
    detail = (await c.get(f"/v1/enterprises/{code}", headers=admin)).json()
    (item,) = (await c.get("/v1/enterprises", params={"region": "330106"}, headers=admin)).json()["items"]
    assert item == detail
    assert list(item) == list(detail)  # same keys in the same order
    assert item["registered_capital"] == "1234567.50" and item["city_code"] == "330100"


async def test_six_digit_city_and_province_codes_filter_by_prefix(c, as_, db):
    hz = await add_enterprise(db, region_code="330106")
    nb = await add_enterprise(db, region_code="330212")

    async def codes(region):
        r = await c.get("/v1/enterprises", params={"region": region}, headers=as_())
        return {e["credit_code"] for e in r.json()["items"]}

    assert await codes("330100") == await codes("3301") == {hz}
    assert await codes("330000") == {hz, nb}


async def test_an_official_filtering_outside_their_region_gets_403(c, as_, db):
    await add_enterprise(db, region_code="330212")
    headers = as_("official", region="330100")
    for path in ("/v1/enterprises", "/v1/enterprises/export"):
        r = await c.get(path, params={"region": "3302"}, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
        assert r.json()["errors"][0]["pointer"] == "#/query/region"
        # The region as the caller named it (one wording for every service), not its prefix.
        assert r.json()["detail"] == "region 3302 is outside your region 330100"
    r = await c.get("/v1/enterprises", params={"region": "330200"}, headers=headers)
    assert r.json()["detail"] == "region 330200 is outside your region 330100"


async def test_search_results_page_in_rank_order_then_name_order(c, as_, db):
    """Name prefixes first, then names containing the query; each in name order (credit codes
    run the other way here), across pages of two."""
    codes = sorted(new_credit_code() for _ in range(5))[::-1]
    prefix = ["杭州翻页精密0有限公司", "杭州翻页精密1有限公司", "杭州翻页精密2有限公司"]
    contained = ["宁波0杭州翻页精密有限公司", "宁波1杭州翻页精密有限公司"]
    for code, name in zip(codes, prefix + contained, strict=True):
        await add_enterprise(db, credit_code=code, name=name)
    assert await searched_names(c, as_(), "杭州翻页精密") == prefix + contained


async def test_export_of_a_misspelt_name_has_the_fuzzy_matches_the_list_shows(c, as_, db):
    a = await add_enterprise(db, name="杭州海康精密机械有限公司")
    await add_enterprise(db, name="温州鞋业有限公司")
    params, admin = {"q": "杭州海康精蜜机械"}, as_()
    listed = (await c.get("/v1/enterprises", params=params, headers=admin)).json()["items"]
    r = await c.get("/v1/enterprises/export", params={**params, "format": "csv"}, headers=admin)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [e["credit_code"] for e in listed] == [a]


async def test_shown_titles_follow_title_changes_and_the_calendar(c, as_, db):
    """The list and the detail show today's active titles from the enterprise's row (kept by a
    trigger on titles) only while the row's set still holds; past its last day they are read from
    the titles themselves, so expiry needs nobody to touch the row."""
    code = await add_enterprise(db)
    today = today_shanghai()
    url = f"/v1/enterprises/{code}/titles"

    async def shown():
        detail = (await c.get(f"/v1/enterprises/{code}", headers=as_())).json()["titles"]
        (item,) = (await c.get("/v1/enterprises", params={"q": code}, headers=as_())).json()["items"]
        assert item["titles"] == detail
        return detail

    async def holds_until():
        return await db.fetchval("SELECT titles_until FROM registry.enterprises WHERE credit_code = $1", code)

    assert await shown() == []
    later = {"kind": "high_tech", "level": "national", "valid_from": str(today + timedelta(days=1))}
    assert (
        await c.post(url, json={**later, "valid_to": str(today + timedelta(days=400))}, headers=as_())
    ).status_code == 201
    r = await c.post(
        url,
        json={
            "kind": "tech_sme",
            "level": "provincial",
            "valid_from": str(today - timedelta(days=10)),
            "valid_to": str(today),
        },
        headers=as_(),
    )
    assert r.status_code == 201
    assert await shown() == ["tech_sme"]
    assert await holds_until() == today  # tomorrow high_tech starts and tech_sme has expired

    # Days later, nobody having touched the row: its set is past its last day and is not trusted.
    await db.execute(
        "UPDATE registry.enterprises SET active_titles = '{champion}', titles_until = $2 WHERE credit_code = $1",
        code,
        today - timedelta(days=1),
    )
    assert await shown() == ["tech_sme"]

    assert (
        await c.post(f"{url}/{r.json()['id']}/revoke", json={"reason": "复核"}, headers=as_())
    ).status_code == 200
    assert await shown() == []
    assert await holds_until() == today  # the day before high_tech starts counting


async def test_a_statement_writing_many_titles_refreshes_every_enterprise_it_touches(db):
    codes = [await add_enterprise(db) for _ in range(3)]
    today = today_shanghai()
    await db.execute(
        "INSERT INTO registry.titles (credit_code, kind, level, valid_from, valid_to) "
        "SELECT c, k, 'provincial', $2::date, $3::date FROM unnest($1::text[]) c, unnest(ARRAY['tech_sme', 'high_tech']) k",
        codes,
        today - timedelta(days=5),
        today + timedelta(days=30),
    )
    await db.execute(
        "UPDATE registry.titles SET status = 'revoked' WHERE credit_code = $1 AND kind = 'high_tech'",
        codes[0],
    )
    rows = await db.fetch(
        "SELECT credit_code, active_titles, titles_until FROM registry.enterprises "
        "WHERE credit_code = ANY($1::text[]) ORDER BY credit_code",
        codes,
    )
    expected = {
        codes[0]: ["tech_sme"],
        codes[1]: ["high_tech", "tech_sme"],
        codes[2]: ["high_tech", "tech_sme"],
    }
    assert {r["credit_code"]: r["active_titles"] for r in rows} == expected
    assert {r["titles_until"] for r in rows} == {today + timedelta(days=30)}


async def test_refresh_titles_renews_the_sets_that_ran_out(c, as_, db):
    from services.registry.titles.cache import refresh_stale

    fresh, stale = (
        await add_enterprise(db, titles=["tech_sme"]),
        await add_enterprise(db, titles=["tech_sme"]),
    )
    await db.execute(
        f"UPDATE registry.enterprises SET active_titles = '{{}}', titles_until = {TODAY_SQL} - 1 WHERE credit_code = $1",
        stale,
    )
    assert await refresh_stale(db) == 1
    rows = await db.fetch(
        f"SELECT credit_code, active_titles, titles_until >= {TODAY_SQL} AS holds FROM registry.enterprises "
        "WHERE credit_code = ANY($1::text[])",
        [fresh, stale],
    )
    assert {r["credit_code"]: (r["active_titles"], r["holds"]) for r in rows} == {
        fresh: (["tech_sme"], True),
        stale: (["tech_sme"], True),
    }
    assert await refresh_stale(db) == 0


async def test_hostile_text_in_a_batch_rejects_only_its_records_with_reg_e010(c, as_, db):
    records = [body() for _ in range(6)]
    records[1]["name"] = "杭州\x00精密"
    records[2]["address"] = "文三路\ud800号"  # a lone surrogate, as JSON "\ud800" decodes
    records[3]["name"] = "杭州精密\n机械"  # a name is one line
    records[4]["legal_representative"] = "\u202e张三"  # right-to-left override
    r = await c.post(
        "/v1/enterprises/batch",
        content=json.dumps({"records": records}),
        headers={**as_(), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rule_set_version"] == "2024.2"
    assert [x["status"] for x in out["results"]] == ["created", *["rejected"] * 4, "created"]
    assert [[(e["rule"], e["pointer"], e["code"]) for e in x["errors"]] for x in out["results"][1:5]] == [
        [("REG-E010", "/name", "text_control_character")],
        [("REG-E010", "/address", "text_invalid_unicode")],
        [("REG-E010", "/name", "text_control_character")],
        [("REG-E010", "/legal_representative", "text_control_character")],
    ]
    assert await db.fetchval("SELECT count(*) FROM registry.enterprises") == 2


async def test_hostile_text_in_a_body_query_or_path_is_a_422_with_its_pointer(c, as_):
    r = await c.post("/v1/enterprises", json=body(name="杭州\x00精密"), headers=as_())
    assert r.status_code == 422
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [("/name", "text_control_character")]
    r = await c.get("/v1/enterprises", params={"q": "杭州\x00"}, headers=as_())
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("#/query/q", "text_control_character")
    ]
    r = await c.get("/v1/enterprises/export", params={"q": "杭州\x00"}, headers=as_())
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/q"
    r = await c.get("/v1/enterprises/91330106%00", headers=as_())
    assert r.status_code == 422
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("#/path/credit_code", "text_control_character")
    ]


async def test_officials_of_every_successor_see_enterprises_left_under_a_retired_code(c, as_, db):
    """330104 江干区 was split between 330102 上城区 and 330114 钱塘区: an enterprise still filed
    under it is listed to both (to be moved by one of them), and to no other county."""
    code = await add_enterprise(db, region_code="330104")
    for county, sees in (("330102", True), ("330114", True), ("330106", False)):
        official = as_("official", region=county)
        r = await c.get(f"/v1/enterprises/{code}", headers=official)
        assert r.status_code == (200 if sees else 404), county
        listed = await c.get("/v1/enterprises", params={"region": "330104"}, headers=official)
        assert listed.status_code == (200 if sees else 403), county
        if sees:
            assert [e["credit_code"] for e in listed.json()["items"]] == [code]
    moved = await c.patch(
        f"/v1/enterprises/{code}", json={"region_code": "330114"}, headers=as_("official", region="330114")
    )
    assert moved.status_code == 200 and moved.json()["region_code"] == "330114"
