"""A region's yearly targets (每年制定目标任务): set by the leadership office (an admin or a
province official), read by the region's officials; every indicator listed, null where unset."""

from datetime import date

import pytest

from services.common.targets import indicators_of, targets_of

URL = "/v1/targets/chuying-2022/2023/330100"


@pytest.fixture(autouse=True)
async def _forget_set_targets(db):
    """Targets set over HTTP stay out of other tests (the file's rows are reference data)."""
    yield
    await db.execute("DELETE FROM registry.programme_targets WHERE data_version LIKE 'set by %'")


ITEMS = [
    {"key": "tech_smes", "target": "6000", "unit": "enterprises"},
    {"key": "smb_new_loans", "target": "50000000000.00", "unit": "yuan"},
]


async def test_a_province_official_sets_a_citys_targets_and_the_city_reads_them(client_for, as_, db):
    c = client_for("registry")
    r = await c.put(URL, json={"items": ITEMS}, headers=as_("official", region="330000"))
    assert r.status_code == 200, r.text
    got = {i["key"]: i for i in r.json()["items"]}
    keys = [i.key for i in await indicators_of(db, "chuying-2022")]
    assert list(got) == keys  # every indicator, in the programme's order
    assert got["tech_smes"]["target"] == "6000"
    assert (got["tech_smes"]["window_start"], got["tech_smes"]["window_end"]) == ("2023-01-01", "2023-12-31")
    # a 3-year indicator's default window is the three years to the target's year
    assert (got["smb_new_loans"]["window_start"], got["smb_new_loans"]["window_end"]) == (
        "2021-01-01",
        "2023-12-31",
    )
    assert got["high_tech"]["target"] is None and got["high_tech"]["window_start"] is None

    city = await c.get(URL, headers=as_("official", region="330100"))
    assert city.status_code == 200 and city.json() == r.json()
    # stored as the one reader reads them: the city's own rows only
    stored = {t.key: t for t in await targets_of(db, "chuying-2022", 2023, "330100")}
    assert set(stored) == {"tech_smes", "smb_new_loans"}
    assert stored["smb_new_loans"].window_start == date(2021, 1, 1)

    # PUT replaces the set: a key left out has no target afterwards
    r = await c.put(URL, json={"items": ITEMS[:1]}, headers=as_("admin"))
    assert r.status_code == 200
    assert {t.key for t in await targets_of(db, "chuying-2022", 2023, "330100")} == {"tech_smes"}
    change = await db.fetchrow(
        "SELECT * FROM registry.changes WHERE entity_type = 'programme_targets' ORDER BY seq DESC LIMIT 1"
    )
    assert change["entity_key"] == "chuying-2022/2023/330100" and change["action"] == "replaced"


async def test_city_and_county_officials_may_not_set_targets(client_for, as_, db):
    c = client_for("registry")
    for region in ("330100", "330106"):
        r = await c.put(URL, json={"items": ITEMS}, headers=as_("official", region=region))
        assert r.status_code == 403, r.text
    assert await targets_of(db, "chuying-2022", 2023, "330100") == []
    # another city's targets are out of a city official's reach
    r = await c.get("/v1/targets/chuying-2022/2023/330200", headers=as_("official", region="330100"))
    assert r.status_code == 403 and r.json()["code"] == "region_out_of_scope"
    bank = await c.get(URL, headers=as_("bank", org="B1"))
    assert bank.status_code == 403


@pytest.mark.parametrize(
    ("items", "pointer", "code"),
    [
        ([{"key": "no_such_key", "target": "1", "unit": "enterprises"}], "/items/0/key", "unknown_indicator"),
        ([{"key": "tech_smes", "target": "1", "unit": "yuan"}], "/items/0/unit", "unit_mismatch"),
        ([ITEMS[0], ITEMS[0]], "/items/1/key", "duplicate_key"),
        ([{"key": "adoption_rate", "target": "170", "unit": "percent"}], "/items/0/target", "percent_above_100"),
        (
            [{"key": "parks", "target": "1", "unit": "parks", "window_start": "2023-06-01", "window_end": "2023-01-01"}],
            "/items/0/window_end",
            "window_reversed",
        ),
        (
            [{"key": "parks", "target": "1", "unit": "parks", "window_start": "2019-01-01", "window_end": "2019-12-31"}],
            "/items/0/window_start",
            "window_outside_year",
        ),
    ],
)  # fmt: skip
async def test_hostile_targets_are_refused_with_a_pointer_and_nothing_is_written(
    client_for, as_, db, items, pointer, code
):
    r = await client_for("registry").put(URL, json={"items": items}, headers=as_("admin"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "targets_invalid"
    assert {(e["pointer"], e["code"]) for e in body["errors"]} == {(pointer, code)}
    assert await targets_of(db, "chuying-2022", 2023, "330100") == []


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"key": "tech_smes", "target": "-1", "unit": "enterprises"}]},
        {"items": [{"key": "tech_smes", "target": "1e400", "unit": "enterprises"}]},
        {"items": [{"key": "tech_smes", "target": "1", "unit": "enterprises", "extra": 1}]},
        {"items": [{"key": "tech\u0000smes", "target": "1", "unit": "enterprises"}]},
        {"items": "all"},
        {},
    ],
)
async def test_malformed_bodies_are_422_problems(client_for, as_, body):
    r = await client_for("registry").put(URL, json=body, headers=as_("admin"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["pointer"].startswith("/")


async def test_targets_are_set_for_current_regions_of_known_programmes(client_for, as_):
    c = client_for("registry")
    r = await c.put("/v1/targets/chuying-2022/2023/330104", json={"items": ITEMS}, headers=as_("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/path/region"  # 江干区, retired
    r = await c.put("/v1/targets/chuying-2099/2023/330100", json={"items": ITEMS}, headers=as_("admin"))
    assert r.status_code == 404 and r.json()["code"] == "unknown_programme"
