"""The registry change feed: every event type from real writes through the API, and who sees it
(managers only, an official its region)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from services.common.events import EVENT_TYPES, catalogue
from services.common.today import today_shanghai
from tests.registry.test_pool import CHAMPION_2022
from tests.registry.test_screenings_background import SCREENING
from tests.registry_data import add_enterprise, new_credit_code
from tests.support import feed_events, registry_screening_in_background


@pytest.fixture
def c(client_for):
    return client_for("registry")


@pytest.fixture
async def background(database_url):
    """A registry that screens every region of more than one enterprise in the background."""
    async with registry_screening_in_background(1) as client:
        yield client


def enterprise(code: str, region: str, **kw) -> dict:
    return {
        "credit_code": code,
        "name": "杭州雏鹰事件有限公司",
        "region_code": region,
        "industry_code": "3484",
        **kw,
    }


async def write_everything(c, background, as_, db, worker) -> dict:
    """One of each registry write, through the API: in 西湖区 (330106) by its official, and an
    enterprise of 宁波鄞州 (330212) by the province."""
    xihu, province = as_("official", region="330106"), as_("official", region="330000")
    code = new_credit_code("330106")
    assert (await c.post("/v1/enterprises", json=enterprise(code, "330106"), headers=xihu)).status_code == 201
    r = await c.patch(
        f"/v1/enterprises/{code}",
        json={"name": "杭州雏鹰事件股份有限公司", "address": "文三路2号"},
        headers=xihu,
    )
    assert r.status_code == 200, r.text
    nb = new_credit_code("330212")
    r = await c.post("/v1/enterprises/batch", json={"records": [enterprise(nb, "330212")]}, headers=province)
    assert r.json()["results"][0]["status"] == "created", r.text
    r = await c.post(
        "/v1/enterprises/batch",
        json={"records": [enterprise(nb, "330212", address="鄞州大道1号")]},
        headers=province,
    )
    assert r.json()["results"][0]["status"] == "updated", r.text
    decision = {"credit_code": code, "tier": "seedling", "year": 2022, "decision": "admit", "reason": "评审"}
    assert (await c.post("/v1/pool/decisions", json=decision, headers=xihu)).status_code == 201
    today = today_shanghai()
    title = {"kind": "tech_sme", "level": "provincial", "valid_from": str(today - timedelta(days=10))}
    r = await c.post(f"/v1/enterprises/{code}/titles", json=title, headers=xihu)
    assert r.status_code == 201, r.text
    title_id = r.json()["id"]
    r = await c.post(
        f"/v1/enterprises/{code}/titles/{title_id}/revoke", json={"reason": "复核"}, headers=xihu
    )
    assert r.status_code == 200, r.text
    # a screening answered in its request, and one run in the background
    screened = await add_enterprise(db, industry_code="3484", region_code="330106")
    await c.put(f"/v1/enterprises/{screened}/indicators/2022", json=CHAMPION_2022, headers=as_())
    answered = await c.post("/v1/screenings", json=SCREENING, headers=xihu)
    assert answered.status_code == 201, answered.text
    accepted = await background.post("/v1/screenings", json=SCREENING, headers=xihu)
    assert accepted.status_code == 202, accepted.text
    sid = accepted.json()["id"]
    await worker()
    deadline = time.monotonic() + 90
    while (await background.get(f"/v1/screenings/{sid}", headers=xihu)).json()["status"] == "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    return {
        "code": code,
        "nb": nb,
        "title_id": title_id,
        "answered": answered.json()["id"],
        "background": sid,
    }


async def test_every_registry_event_type_comes_from_a_real_write(c, background, as_, db, in_process_worker):
    w = await write_everything(c, background, as_, db, in_process_worker)
    seen = await feed_events(c, as_("admin"))
    # submission.completed comes from a real submission: tests/common/test_submissions_kit.py
    assert {e["type"] for e in seen} == EVENT_TYPES["registry"] - {"submission.completed"}
    code = w["code"]
    kinds = [(e["type"], e["subject"]["key"]) for e in seen if e["subject"]["key"] in (code, w["nb"])]
    assert kinds == [
        ("enterprise.created", code),
        ("enterprise.updated", code),
        ("enterprise.created", w["nb"]),
        ("enterprise.updated", w["nb"]),
        ("enterprise.pool_changed", code),
        ("enterprise.title_changed", code),
        ("enterprise.title_changed", code),
    ]
    mine = [e for e in seen if e["subject"]["key"] == code]
    assert mine[0]["data"] == {
        "credit_code": code,
        "name": "杭州雏鹰事件有限公司",
        "region_code": "330106",
        "industry_code": "3484",
    }
    assert mine[0]["links"] == {"self": f"/registry/v1/enterprises/{code}"}
    assert mine[1]["data"] == {
        "credit_code": code,
        "changed": ["name", "address"],
        "name": "杭州雏鹰事件股份有限公司",
    }
    assert mine[2]["data"] == {
        "credit_code": code,
        "decision": "admit",
        "tier": "seedling",
        "year": 2022,
        "previous_tier": None,
        "active_tier": "seedling",
        "screening_id": None,
    }
    assert mine[2]["links"]["pool_history"] == f"/registry/v1/enterprises/{code}/pool-history"
    granted, revoked = mine[3]["data"], mine[4]["data"]
    assert (granted["change"], granted["kind"], granted["title_id"]) == ("granted", "tech_sme", w["title_id"])
    assert (revoked["change"], revoked["revoked_on"]) == ("revoked", str(today_shanghai()))
    screenings = [e for e in seen if e["type"] == "screening.completed"]
    # the background run's creation (status running) is no event; its completion is
    assert [e["subject"]["key"] for e in screenings] == [str(w["answered"]), str(w["background"])]
    for s in screenings:
        assert s["data"] == {
            "screening_id": int(s["subject"]["key"]),
            "eligible": 0,
            "ineligible": 1,  # the screened one (CH-7)
            "incomplete": 1,  # the registered one, without indicators
        }
        assert s["links"] == {"self": f"/registry/v1/screenings/{s['subject']['key']}"}


async def test_officials_see_their_region_and_other_kinds_nothing(c, background, as_, db, in_process_worker):
    w = await write_everything(c, background, as_, db, in_process_worker)
    every = await feed_events(c, as_("admin"))
    xihu = await feed_events(c, as_("official", region="330106"))
    assert w["nb"] not in {e["subject"]["key"] for e in xihu}
    assert len(xihu) == len(every) - 2  # all but 宁波's two
    hangzhou = await feed_events(c, as_("official", region="330100"))
    assert hangzhou == xihu
    ningbo = await feed_events(c, as_("official", region="330200"))
    assert [(e["type"], e["subject"]["key"]) for e in ningbo] == [
        ("enterprise.created", w["nb"]),
        ("enterprise.updated", w["nb"]),
    ]
    assert await feed_events(c, as_("official", region="330102")) == []  # 上城区
    assert len(await feed_events(c, as_("official", region="330000"))) == len(every)
    for kind, org in (("bank", "B1"), ("guarantor", "G1"), ("certifier", "CQC")):
        assert await feed_events(c, as_(kind, org=org)) == []


async def test_an_enterprise_moved_out_of_a_region_takes_its_events_along(c, as_, db):
    """Scope is the enterprise's region now, as the lists': once 宁波 holds it, 西湖 sees none of
    its events (the list and the detail answer 404 too), 宁波 all."""
    province = as_("official", region="330000")
    code = new_credit_code("330106")
    assert (
        await c.post("/v1/enterprises", json=enterprise(code, "330106"), headers=province)
    ).status_code == 201
    assert len(await feed_events(c, as_("official", region="330106"))) == 1
    assert (
        await c.patch(f"/v1/enterprises/{code}", json={"region_code": "330212"}, headers=province)
    ).status_code == 200
    assert await feed_events(c, as_("official", region="330106")) == []
    assert (
        await c.get(f"/v1/enterprises/{code}", headers=as_("official", region="330106"))
    ).status_code == 404
    moved = await feed_events(c, as_("official", region="330212"))
    assert [e["type"] for e in moved] == ["enterprise.created", "enterprise.updated"]
    assert moved[1]["data"] == {"credit_code": code, "changed": ["region_code"], "region_code": "330212"}


async def test_a_screening_of_a_city_is_not_a_county_officials(c, as_, db):
    code = await add_enterprise(db, industry_code="3484", region_code="330106")
    await c.put(f"/v1/enterprises/{code}/indicators/2022", json=CHAMPION_2022, headers=as_())
    r = await c.post("/v1/screenings", json=SCREENING, headers=as_("official", region="330100"))
    assert r.status_code == 201, r.text
    assert (
        await c.get(f"/v1/screenings/{r.json()['id']}", headers=as_("official", region="330106"))
    ).status_code == 404
    types = {"types": "screening.completed"}
    assert await feed_events(c, as_("official", region="330106"), **types) == []
    assert len(await feed_events(c, as_("official", region="330100"), **types)) == 1


def test_every_registry_change_shape_is_an_event_or_ignored_for_a_reason():
    cat = catalogue("registry")
    written = {
        ("enterprise", "created"), ("enterprise", "updated"),
        ("pool_membership", "admitted"), ("pool_membership", "rejected"), ("pool_membership", "exited"),
        ("title", "created"), ("title", "revoked"),
        ("screening", "created"), ("screening", "completed"), ("screening", "failed"),
        ("indicators", "created"), ("indicators", "replaced"), ("scale_status", "created"),
        ("park", "created"), ("park", "updated"), ("park_tenant", "created"), ("park_tenant", "updated"),
        ("programme_targets", "replaced"),
        ("service_institution", "created"), ("reported_figure", "created"),
    }  # fmt: skip
    written.add(("submission", "completed"))  # a file submission's end (services/common/submissions)
    assert written == set(cat.sources) | set(cat.ignored)
    assert not set(cat.sources) & set(cat.ignored)
