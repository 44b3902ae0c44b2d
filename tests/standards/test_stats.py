"""Statistics on a crafted dataset, with every expected number computed by hand (year 2023,
as of 2023-12-31).

Enterprises (registry):           region  industry  size 2023  scale facts
  E1                              330106  C 3311    small      above 2021
  E2                              330102  C 3311    medium     above 2022, below 2024
  E3                              330212  C 3311    large      below 2020
  E4                              330203  F 5211    micro      above 2020
  U  (not in the registry)        330302
"""

import pytest

from services.common.credit_code import make_credit_code
from tests.registry_data import add_enterprise
from tests.standards.helpers import cert, push


@pytest.fixture
def c(client_for):
    return client_for("standards")


def reason(r, status, on, why="监督抽查"):
    return {**r, "status": status, "status_effective_on": on, "status_reason": why}


@pytest.fixture
async def dataset(c, as_, db):
    e1 = await add_enterprise(db, region_code="330106", sizes={2023: "small"}, scale=[("above", 2021)])
    e2 = await add_enterprise(
        db, region_code="330102", sizes={2023: "medium"}, scale=[("above", 2022), ("below", 2024)]
    )
    e3 = await add_enterprise(db, region_code="330212", sizes={2023: "large"}, scale=[("below", 2020)])
    e4 = await add_enterprise(
        db, region_code="330203", industry_code="5211", sizes={2023: "micro"}, scale=[("above", 2020)]
    )
    u = make_credit_code("91330302MA2DDDDD0")
    admin = as_()

    async def standard(code, level, published_on, status="current", leads=(), participants=()):
        r = await c.post(
            "/v1/standards",
            json={
                "code": code,
                "level": level,
                "title": code,
                "published_on": published_on,
                "status": status,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        for who, role in [(x, "lead") for x in leads] + [(x, "participant") for x in participants]:
            r = await c.post(
                f"/v1/standards/{code.replace('/', '%2F')}/drafters",
                json={"credit_code": who, "role": role},
                headers=admin,
            )
            assert r.status_code == 201, r.text

    # International standards led: A (HZ), B (NB), C (2024: too late), D (led from HZ and NB).
    await standard("ISO 10001:2020", "international", "2020-05-01", leads=[e1], participants=[e3])
    await standard("ISO 10002:2023", "international", "2023-06-01", leads=[e3])
    await standard("ISO 10003:2024", "international", "2024-02-01", leads=[e2])
    await standard("ISO 10004:2019", "international", "2019-01-01", leads=[e1, e3])
    await standard("IEC 10005:2018", "international", "2018-01-01", participants=[e1])  # no lead
    # 浙江制造 standards: 0001 (HZ lead), 0002 (no drafter), 0003 withdrawn (NB lead; still in the
    # stock), 0004 (2024), 0005 (NB lead).
    await standard("T/ZZB 0001-2020", "zhejiang_made", "2020-01-01", leads=[e1])
    await standard("T/ZZB 0002-2021", "zhejiang_made", "2021-01-01")
    await standard("T/ZZB 0003-2022", "zhejiang_made", "2022-01-01", status="withdrawn", leads=[e3])
    await standard("T/ZZB 0004-2024", "zhejiang_made", "2024-01-01", leads=[e1])
    await standard("T/ZZB 0005-2023", "zhejiang_made", "2023-03-01", leads=[e3])

    base = {"issued_on": "2022-01-01", "status_effective_on": "2022-01-01", "expires_on": "2025-01-01"}
    c3 = cert(certificate_no="C3", holder_credit_code=e2, **base)
    c7 = cert(certificate_no="C7", holder_credit_code=e4, **base)
    out = await push(
        c,
        as_("certifier", org="CQM"),
        [
            cert(certificate_no="C1", holder_credit_code=e1, **base),  # E1 counts
            cert(certificate_no="C2", holder_credit_code=e1, **base),  # E1 again: once
            c3,
            reason(c3, "suspended", "2023-11-01"),  # suspended at year end: no
            cert(certificate_no="C4", holder_credit_code=e3, **base),  # large: no
            cert(
                certificate_no="C5", holder_credit_code=e4, **{**base, "expires_on": "2023-06-30"}
            ),  # expired
            cert(certificate_no="C6", holder_credit_code=u, **base),  # unmatched: no size
            c7,
            reason(c7, "revoked", "2024-03-01"),  # revoked only in 2024: E4 counts for 2023
            cert(
                certificate_no="C8",
                holder_credit_code=e2,
                issued_on="2024-01-10",
                status_effective_on="2024-01-10",
                expires_on="2027-01-10",
            ),  # issued after the year: no
        ],
    )
    assert out.json()["summary"]["rejected"] == 0, out.text

    def report(main, *degrees):
        return {
            "main_products": main,
            "adopting_products": [
                {"product": f"p{i}", "standard_code": f"ISO {i}:2020", "degree": d}
                for i, d in enumerate(degrees)
            ],
        }

    for code, year, body in [
        (e1, 2023, report(10, "IDT", "IDT", "MOD", "NEQ")),  # 3 / 10
        (e2, 2023, report(5, "MOD", "MOD")),  # 2 / 5 (above in 2023)
        (e3, 2023, report(4, "IDT", "IDT", "IDT", "IDT")),  # below scale: excluded
        (e4, 2023, report(2, "IDT")),  # not industrial: excluded
        (e1, 2022, report(1, "IDT")),  # another year
    ]:
        r = await c.put(f"/v1/enterprises/{code}/adoption/{year}", json=body, headers=admin)
        assert r.status_code == 201, r.text
    return {"e1": e1, "e2": e2, "e3": e3, "e4": e4}


def figures(body):
    return (
        body["intl_standards_led"],
        body["zhejiang_made_standards"],
        body["pinzibiao_smes"],
        body["adoption_rate"]["numerator"],
        body["adoption_rate"]["denominator"],
        body["adoption_rate"]["rate"],
    )


async def test_province_figures(c, as_, dataset):
    r = await c.get("/v1/stats", params={"year": 2023}, headers=as_())
    assert r.status_code == 200, r.text
    body = r.json()
    # intl: 10001, 10002, 10004 · ZZB: 0001, 0002, 0003 (withdrawn), 0005 = 4 (0004 is 2024)
    # SMEs: E1, E4 · adoption (3+2)/(10+5)
    assert figures(body) == (3, 4, 2, 5, 15, "33.33")
    assert body["as_of"] == "2023-12-31" and body["groups"] is None


async def test_figures_by_city(c, as_, dataset):
    body = (
        await c.get("/v1/stats", params={"year": 2023, "region": "330000", "group_by": "city"}, headers=as_())
    ).json()
    groups = {g["region_code"]: figures(g) for g in body["groups"]}
    assert groups == {
        "330100": (2, 1, 1, 5, 15, "33.33"),  # 10001, 10004 · 0001 · E1 · E1 + E2
        "330200": (2, 2, 1, 0, 0, None),  # 10002, 10004 · 0003 (withdrawn), 0005 · E4 · none
    }
    assert figures(body) == (3, 4, 2, 5, 15, "33.33")  # distinct totals, not sums of rows


async def test_an_official_gets_their_region_and_counties(c, as_, dataset):
    hz = as_("official", region="330100")
    body = (await c.get("/v1/stats", params={"year": 2023, "group_by": "county"}, headers=hz)).json()
    assert body["region"] == "330100"
    assert figures(body) == (2, 1, 1, 5, 15, "33.33")
    groups = {g["region_code"]: figures(g) for g in body["groups"]}
    assert groups == {"330106": (2, 1, 1, 3, 10, "30"), "330102": (0, 0, 0, 2, 5, "40")}
    r = await c.get("/v1/stats", params={"year": 2023, "region": "330200"}, headers=hz)
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"


async def test_earlier_year(c, as_, dataset):
    body = (await c.get("/v1/stats", params={"year": 2022}, headers=as_())).json()
    # intl: 10001, 10004 · ZZB published by 2022: 0001, 0002, 0003 (withdrawn since: counted) = 3
    # SMEs: size only for 2023 → none · adoption 2022: E1 1/1 (above since 2021)
    assert figures(body) == (2, 3, 0, 1, 1, "100")


async def test_targets_carry_value_unit_definition_and_target(c, as_, dataset):
    body = (await c.get("/v1/stats", params={"year": 2023}, headers=as_())).json()
    t = body["targets"]
    assert set(t) == {"adoption_rate", "intl_standards_led", "zhejiang_made_standards", "pinzibiao_smes"}
    assert t["adoption_rate"]["value"] == "33.33" and t["adoption_rate"]["unit"] == "percent"
    assert t["adoption_rate"]["target"] == "70"
    assert t["pinzibiao_smes"] == {
        **t["pinzibiao_smes"],
        "value": "2",
        "unit": "enterprises",
        "target": "800",
    }
    assert all(x["definition"] for x in t.values())


async def test_definitions_are_in_the_openapi_description(apps):
    op = apps["standards"].openapi()["paths"]["/v1/stats"]["get"]
    for key in ("intl_standards_led", "zhejiang_made_standards", "pinzibiao_smes", "adoption_rate"):
        assert key in op["description"]


async def test_certifiers_cannot_read_stats(c, as_):
    assert (
        await c.get("/v1/stats", params={"year": 2023}, headers=as_("certifier", org="CQM"))
    ).status_code == 403
