"""Public helpers and reference data: credit codes (domain.md §2), size classes (§3), regions (§9)."""

import pytest

from services.common.credit_code import make_credit_code


@pytest.fixture
def c(client_for):
    return client_for("registry")


async def test_credit_code_vectors_from_the_standard(c):
    r = await c.get("/v1/tools/credit-code/91350100M000100Y43")
    body = r.json()
    assert r.status_code == 200 and body["valid"] is True and body["errors"] == []
    assert (
        body["area_code"] == "350100"
        and body["category"] == "企业"
        and body["registration_authority"] == "工商"
    )
    assert (await c.get("/v1/tools/credit-code/91330000733796106P")).json()["valid"] is True
    # Lower case and surrounding spaces are normalised.
    body = (await c.get("/v1/tools/credit-code/ 91330000733796106p ")).json()
    assert body["valid"] is True and body["normalized"] == "91330000733796106P"


async def test_wrong_check_character_names_the_expected_one(c):
    body = (await c.get("/v1/tools/credit-code/91350100M000100Y4Z")).json()
    assert body["valid"] is False and body["expected_check_character"] == "3"
    assert body["errors"][0]["code"] == "credit_code_check" and "expected 3" in body["errors"][0]["message"]


async def test_wrong_length_and_forbidden_letters(c):
    body = (await c.get("/v1/tools/credit-code/91350100M000100Y4")).json()
    assert body["valid"] is False and body["errors"][0]["code"] == "credit_code_length"
    for bad in ("I", "O", "S", "V", "Z"):
        body = (await c.get(f"/v1/tools/credit-code/91350100M000100{bad}43")).json()
        assert body["valid"] is False and body["errors"][0]["code"] == "credit_code_alphabet", bad
    body = (await c.get("/v1/tools/credit-code/9135A100M000100Y43")).json()
    assert body["errors"][0]["code"] == "credit_code_area"


async def test_unknown_area_code_is_not_rejected(c):
    code = make_credit_code("91999999MA0000001")
    assert (await c.get(f"/v1/tools/credit-code/{code}")).json()["valid"] is True


async def size(c, **params):
    r = await c.get("/v1/tools/size-class", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_industry_boundaries_employees_and_revenue(c):
    # 工业 (3311): X persons, Y 营业收入 (万元 in the table, yuan in the API). Example: 300/2000 → medium.
    assert (await size(c, industry_code="3311", employees=300, revenue="20000000"))["size"] == "medium"
    assert (await size(c, industry_code="3311", employees=299, revenue="20000000"))["size"] == "small"
    assert (await size(c, industry_code="3311", employees=300, revenue="19999999.99"))["size"] == "small"
    assert (await size(c, industry_code="3311", employees=1000, revenue="400000000"))["size"] == "large"
    assert (await size(c, industry_code="3311", employees=20, revenue="3000000"))["size"] == "small"
    assert (await size(c, industry_code="3311", employees=19, revenue="400000000"))["size"] == "micro"
    body = await size(c, industry_code="3311", employees=1000, revenue="399999999")
    assert body["size"] == "medium" and body["rule_version"] == "2017-213"
    assert [d["indicator"] for d in body["decided_by"]] == ["revenue"]
    assert (
        body["decided_by"][0]["fails"] == "large" and body["decided_by"][0]["bound_missed"] == "400000000.00"
    )
    assert body["thresholds"]["revenue"]["medium"] == "20000000"


async def test_construction_uses_revenue_and_total_assets(c):
    args = {"industry_code": "4710"}
    assert (await size(c, **args, revenue="60000000", total_assets="50000000"))["size"] == "medium"
    assert (await size(c, **args, revenue="60000000", total_assets="49999999"))["size"] == "small"
    assert (await size(c, **args, revenue="800000000", total_assets="800000000"))["size"] == "large"
    assert (await size(c, **args, revenue="2999999", total_assets="800000000"))["size"] == "micro"


async def test_wholesale_retail_and_real_estate_development(c):
    assert (await size(c, industry_code="5137", employees=20, revenue="50000000"))["size"] == "medium"
    assert (await size(c, industry_code="5137", employees=19, revenue="50000000"))["size"] == "small"
    assert (await size(c, industry_code="5137", employees=5, revenue="9999999"))["size"] == "micro"
    assert (await size(c, industry_code="5211", employees=50, revenue="5000000"))["size"] == "medium"
    assert (await size(c, industry_code="5211", employees=10, revenue="1000000"))["size"] == "small"
    # 房地产开发经营 7010: Y 200000/1000/100 万元, Z 10000/5000/2000 万元.
    assert (await size(c, industry_code="7010", revenue="2000000000", total_assets="100000000"))[
        "size"
    ] == "large"
    assert (await size(c, industry_code="7010", revenue="10000000", total_assets="50000000"))[
        "size"
    ] == "medium"
    assert (await size(c, industry_code="7010", revenue="1000000", total_assets="19999999"))[
        "size"
    ] == "micro"


async def test_single_indicator_industries(c):
    # 其他未列明行业 (e.g. 8010 家庭服务): employees only.
    assert (await size(c, industry_code="8010", employees=300))["size"] == "large"
    assert (await size(c, industry_code="8010", employees=100))["size"] == "medium"
    assert (await size(c, industry_code="8010", employees=10))["size"] == "small"
    assert (await size(c, industry_code="8010", employees=9))["size"] == "micro"
    # 农林牧渔: revenue only.
    assert (await size(c, industry_code="0141", revenue="500000"))["size"] == "small"
    assert (await size(c, industry_code="0141", revenue="499999.99"))["size"] == "micro"


async def test_size_class_needs_the_industrys_indicators(c):
    r = await c.get("/v1/tools/size-class", params={"industry_code": "3311", "employees": 50})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/revenue"
    r = await c.get("/v1/tools/size-class", params={"industry_code": "9999", "employees": 50})
    assert r.status_code == 422


async def test_one_indicator_below_small_proves_micro_without_the_other(c):
    """工业 needs employees and revenue; 19 persons (< 20) is micro whatever the revenue."""
    body = await size(c, industry_code="3311", employees=19)
    assert body["size"] == "micro" and body["in_scope"] is True
    assert [d["indicator"] for d in body["decided_by"]] == ["employees"]
    assert (await size(c, industry_code="3311", revenue="2999999.99"))["size"] == "micro"  # < 300 万元
    r = await c.get("/v1/tools/size-class", params={"industry_code": "3311", "revenue": "3000000"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/employees"


@pytest.mark.parametrize(
    ("industry_code", "row"),
    [
        ("6621", "J 金融业"),  # 商业银行服务: a bank of 50 staff is not "small" by headcount
        ("8331", "P 教育"),
        ("8411", "Q84 卫生"),
        ("9221", "S 公共管理"),
        ("9700", "T 国际组织"),
        ("5311", "53 铁路运输"),
        ("7040", "7040 房地产租赁经营"),
    ],
)
async def test_industries_outside_the_size_rules_are_not_sized(c, industry_code, row):
    body = await size(c, industry_code=industry_code, employees=50, revenue="1000000", total_assets="1000000")
    assert body["size"] is None and body["in_scope"] is False
    assert body["out_of_scope_reason"].startswith(row)
    assert body["decided_by"] == [] and body["thresholds"] == {} and body["industry_group"] is None


async def test_social_work_and_other_real_estate_are_sized(c):
    """Q85 社会工作 is in scope (其他未列明行业), as are K703/K709 beside the excluded 7040."""
    for code in ("8512", "7030", "7090"):
        body = await size(c, industry_code=code, employees=10)
        assert (body["size"], body["in_scope"], body["industry_group"]) == ("small", True, "other"), code


async def test_regions_list_cities_counties_and_retired_codes(c):
    body = (await c.get("/v1/regions")).json()
    items = {r["code"]: r for r in body["items"]}
    assert sum(1 for r in items.values() if r["level"] == "city") == 11
    assert sum(1 for r in items.values() if r["level"] == "county" and not r["retired"]) == 90
    assert items["330103"]["retired"] is True and items["330104"]["retired"] is True
    assert items["330113"]["name"] == "临平区" and items["330383"]["parent"] == "330300"
    hz = (await c.get("/v1/regions/330100")).json()
    assert hz["name"] == "杭州市" and "330106" in {k["code"] for k in hz["children"]}
    assert (await c.get("/v1/regions/110000")).status_code == 404
