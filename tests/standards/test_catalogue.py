"""The standards catalogue: one spelling per number, levels consistent with numbers, drafters."""

import pytest

from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("standards")


async def test_zzb_numbers_are_stored_with_an_em_dash_whatever_dash_is_sent(c, as_):
    r = await c.post(
        "/v1/standards",
        json={
            "code": "t/zzb 0123-2022",
            "level": "zhejiang_made",
            "title": "电动工具用齿轮箱",
            "published_on": "2022-05-01",
        },
        headers=as_(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["code"] == "T/ZZB 0123—2022"
    for spelling in ("T/ZZB 0123–2022", "T/ZZB 0123—2022"):
        dup = await c.post(
            "/v1/standards", json={"code": spelling, "level": "zhejiang_made", "title": "x"}, headers=as_()
        )
        assert dup.status_code == 409 and dup.json()["code"] == "standard_exists"
    got = await c.get("/v1/standards/T%2FZZB%200123-2022", headers=as_("certifier", org="CQM"))
    assert got.status_code == 200 and got.json()["title"] == "电动工具用齿轮箱"


async def test_levels_must_match_the_number(c, as_):
    bad = [
        {"code": "GB/T 19001-2016", "level": "zhejiang_made", "title": "x"},
        {"code": "T/ZZB 0001-2023", "level": "group", "title": "x"},
        {"code": "GB/T 19001-2016", "level": "group", "title": "x"},
    ]
    for body in bad:
        r = await c.post("/v1/standards", json=body, headers=as_())
        assert r.status_code == 422, body


async def test_search_filter_patch_and_change_log(c, as_, db):
    admin = as_()
    for body in (
        {"code": "ISO 9001:2015", "level": "international", "title": "Quality management systems"},
        {
            "code": "GB/T 19001-2016",
            "level": "national",
            "title": "质量管理体系 要求",
            "adoption": {"international_code": "ISO 9001:2015", "degree": "IDT"},
        },
        {"code": "T/ZZB 0001-2023", "level": "zhejiang_made", "title": "齿轮减速电机"},
    ):
        assert (await c.post("/v1/standards", json=body, headers=admin)).status_code == 201
    r = await c.get("/v1/standards", params={"q": "质量"}, headers=admin)
    assert [s["code"] for s in r.json()["items"]] == ["GB/T 19001—2016"]
    assert r.json()["items"][0]["adoption"] == {"international_code": "ISO 9001:2015", "degree": "IDT"}
    r = await c.get("/v1/standards", params={"level": "zhejiang_made"}, headers=admin)
    assert [s["code"] for s in r.json()["items"]] == ["T/ZZB 0001—2023"]
    r = await c.patch("/v1/standards/T%2FZZB%200001-2023", json={"status": "withdrawn"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = await c.get("/v1/standards", params={"status": "current"}, headers=admin)
    assert "T/ZZB 0001—2023" not in [s["code"] for s in r.json()["items"]]
    assert (await c.patch("/v1/standards/NOPE%201", json={"title": "x"}, headers=admin)).status_code == 404
    log = await db.fetch("SELECT action, entity_key FROM standards.changes ORDER BY seq")
    assert [tuple(x) for x in log][-1] == ("updated", "T/ZZB 0001—2023")
    assert len(log) == 4


async def test_only_admin_and_officials_write_the_catalogue(c, as_):
    body = {"code": "T/ZZB 0001-2023", "level": "zhejiang_made", "title": "x"}
    assert (await c.post("/v1/standards", json=body, headers=as_("certifier", org="CQM"))).status_code == 403
    assert (
        await c.post("/v1/standards", json=body, headers=as_("official", region="330000"))
    ).status_code == 201


async def test_drafters_and_the_enterprise_view(c, as_, db):
    hz = await add_enterprise(db, region_code="330106")
    await c.post(
        "/v1/standards", json={"code": "ISO 1234:2020", "level": "international", "title": "x"}, headers=as_()
    )
    r = await c.post(
        "/v1/standards/ISO%201234%3A2020/drafters",
        json={"credit_code": hz, "role": "participant"},
        headers=as_(),
    )
    assert r.status_code == 201, r.text
    r = await c.post(
        "/v1/standards/ISO%201234%3A2020/drafters", json={"credit_code": hz, "role": "lead"}, headers=as_()
    )
    assert r.status_code == 200 and r.json()["role"] == "lead"
    mine = await c.get(f"/v1/enterprises/{hz}/standards", headers=as_("official", region="330100"))
    assert [(s["code"], s["role"]) for s in mine.json()["items"]] == [("ISO 1234:2020", "lead")]
    other = await c.get(f"/v1/enterprises/{hz}/standards", headers=as_("official", region="330200"))
    assert other.status_code == 404
    r = await c.post(
        "/v1/standards/ISO%201234%3A2020/drafters",
        json={"credit_code": hz, "role": "lead"},
        headers=as_("official", region="330200"),
    )
    assert r.status_code == 404
    r = await c.post(
        "/v1/standards/ISO%201234%3A2020/drafters", json={"credit_code": "123", "role": "lead"}, headers=as_()
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/credit_code"
