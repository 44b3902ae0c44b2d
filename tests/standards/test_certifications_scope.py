"""Who sees which certificates: a body its own (another body's is a 404, and it cannot overwrite
it), officials by the holder's region, admin all."""

import pytest

from services.common.credit_code import make_credit_code
from tests.registry_data import add_enterprise
from tests.standards.helpers import Y, cert, push


@pytest.fixture
def c(client_for):
    return client_for("standards")


async def test_body_b_cannot_read_body_a_certificate(c, as_):
    a, b = as_("certifier", org="BODY-A"), as_("certifier", org="BODY-B")
    await push(c, a, [cert(certificate_no="SAME-1")])
    assert (await c.get("/v1/certifications/SAME-1", headers=a)).status_code == 200
    for path in ("/v1/certifications/SAME-1", "/v1/certifications/SAME-1/history"):
        r = await c.get(path, headers=b)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert (await c.get("/v1/certifications", headers=b)).json()["items"] == []


async def test_body_b_pushing_the_same_number_creates_its_own_certificate(c, as_, db):
    a, b = as_("certifier", org="BODY-A"), as_("certifier", org="BODY-B")
    await push(c, a, [cert(certificate_no="SAME-1", product="A的产品")])
    out = (
        await push(
            c, b, [cert(certificate_no="SAME-1", product="B的产品", status="revoked", status_reason="x")]
        )
    ).json()
    assert out["results"][0]["status"] == "created"
    rows = await db.fetch("SELECT certifier, product, status FROM standards.certificates ORDER BY certifier")
    assert [tuple(r) for r in rows] == [("BODY-A", "A的产品", "valid"), ("BODY-B", "B的产品", "revoked")]
    mine = (await c.get("/v1/certifications/SAME-1", headers=a)).json()
    assert mine["product"] == "A的产品" and mine["status"] == "valid"


async def test_officials_see_certificates_of_holders_in_their_region(c, as_, db):
    hangzhou = await add_enterprise(db, region_code="330106")
    ningbo = await add_enterprise(db, region_code="330212")
    unmatched_wenzhou = make_credit_code("91330302MA2BBBBB0")  # not in the registry: area code 330302
    await push(
        c,
        as_("certifier", org="CQM"),
        [
            cert(certificate_no="HZ", holder_credit_code=hangzhou),
            cert(certificate_no="NB", holder_credit_code=ningbo),
            cert(certificate_no="WZ", holder_credit_code=unmatched_wenzhou),
        ],
    )

    async def numbers(headers):
        r = await c.get("/v1/certifications", headers=headers)
        assert r.status_code == 200, r.text
        return sorted(x["certificate_no"] for x in r.json()["items"])

    assert await numbers(as_("official", region="330100")) == ["HZ"]
    assert await numbers(as_("official", region="330212")) == ["NB"]
    assert await numbers(as_("official", region="330300")) == ["WZ"]
    assert await numbers(as_("official", region="330000")) == ["HZ", "NB", "WZ"]
    assert await numbers(as_("admin")) == ["HZ", "NB", "WZ"]
    r = await c.get("/v1/certifications/NB", headers=as_("official", region="330100"))
    assert r.status_code == 404


async def test_banks_may_not_read_certificates(c, as_):
    assert (await c.get("/v1/certifications", headers=as_("bank", org="B001"))).status_code == 403


async def test_list_filters_and_pages(c, as_):
    body = as_("certifier", org="CQM")
    other = make_credit_code("91330106MA2CCCCC0")
    await push(
        c,
        body,
        [cert(certificate_no=f"P-{i}") for i in range(5)]
        + [
            cert(certificate_no="OTHER", holder_credit_code=other, standard_code="T/ZZB 0002-2023"),
            cert(
                certificate_no="OLD",
                issued_on="2019-01-01",
                status_effective_on="2019-01-01",
                expires_on="2022-01-01",
            ),
            cert(
                certificate_no="SUSP",
                status="suspended",
                status_effective_on=f"{Y}-05-01",
                status_reason="整改",
            ),
        ],
    )

    async def numbers(**params):
        r = await c.get("/v1/certifications", headers=body, params=params)
        assert r.status_code == 200, r.text
        return [x["certificate_no"] for x in r.json()["items"]]

    assert await numbers(holder=other) == ["OTHER"]
    assert await numbers(standard="T/ZZB 0002—2023") == ["OTHER"]
    assert await numbers(status="expired") == ["OLD"]
    assert await numbers(status="suspended") == ["SUSP"]
    assert await numbers(expiring_before=f"{Y}-01-01") == ["OLD"]
    page1 = (await c.get("/v1/certifications", headers=body, params={"limit": 3})).json()
    page2 = (
        await c.get("/v1/certifications", headers=body, params={"limit": 3, "cursor": page1["next_cursor"]})
    ).json()
    page3 = (
        await c.get("/v1/certifications", headers=body, params={"limit": 3, "cursor": page2["next_cursor"]})
    ).json()
    seen = [x["certificate_no"] for p in (page1, page2, page3) for x in p["items"]]
    assert seen == [f"P-{i}" for i in range(5)] + ["OTHER", "OLD", "SUSP"] and page3["next_cursor"] is None


async def test_an_admin_must_choose_the_body_when_a_number_is_shared(c, as_):
    await push(c, as_("certifier", org="BODY-A"), [cert(certificate_no="DUP")])
    await push(c, as_("certifier", org="BODY-B"), [cert(certificate_no="DUP")])
    r = await c.get("/v1/certifications/DUP", headers=as_())
    assert r.status_code == 409 and r.json()["code"] == "ambiguous_certificate_no"
    r = await c.get("/v1/certifications/DUP", headers=as_(), params={"certifier": "BODY-B"})
    assert r.status_code == 200 and r.json()["certifier"] == "BODY-B"


async def test_body_b_cannot_page_on_with_body_a_cursor(c, as_):
    a, b = as_("certifier", org="BODY-A"), as_("certifier", org="BODY-B")
    await push(c, a, [cert(certificate_no=f"A-{i}") for i in range(3)])
    await push(c, b, [cert(certificate_no=f"B-{i}") for i in range(3)])
    first = (await c.get("/v1/certifications", headers=a, params={"limit": 2})).json()
    cursor = first["next_cursor"]
    r = await c.get("/v1/certifications", headers=b, params={"limit": 2, "cursor": cursor})
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", r.text
    r = await c.get("/v1/certifications", headers=a, params={"status": "valid", "cursor": cursor})
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.get("/v1/certifications", headers=a, params={"limit": 2, "cursor": cursor})
    assert [x["certificate_no"] for x in r.json()["items"]] == ["A-2"]


async def test_a_history_cursor_belongs_to_that_certificate(c, as_):
    a = as_("certifier", org="BODY-A")
    for status, on in (("valid", f"{Y}-03-01"), ("suspended", f"{Y}-04-01"), ("valid", f"{Y}-05-01")):
        reason = "整改" if status == "suspended" else None
        for no in ("H-1", "H-2"):
            await push(
                c, a, [cert(certificate_no=no, status=status, status_effective_on=on, status_reason=reason)]
            )
    first = (await c.get("/v1/certifications/H-1/history", headers=a, params={"limit": 1})).json()
    r = await c.get("/v1/certifications/H-2/history", headers=a, params={"cursor": first["next_cursor"]})
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", r.text
    r = await c.get("/v1/certifications/H-1/history", headers=a, params={"cursor": first["next_cursor"]})
    assert [h["revision"] for h in r.json()["items"]] == [2, 3]


async def test_a_certifier_without_an_org_code_lists_nothing(c, as_):
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="MINE")])
    r = await c.get("/v1/certifications", headers=as_("certifier"))
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
