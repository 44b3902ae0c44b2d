"""Screenings over large regions run in the background (202 and a status resource) with the same
results as a screening answered in its request; a run whose process died never stays running."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urljoin

import httpx
import pytest

from services.common.readpool import close_read_pool
from services.common.settings import ScreeningSettings, get_settings
from services.registry.app import create_app
from tests.registry.test_pool import CHAMPION_2022
from tests.registry_data import add_enterprise

SCREENING = {"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"}


@pytest.fixture
def c(client_for):
    return client_for("registry")


@pytest.fixture
async def background(database_url):
    """The registry screening every region of more than two enterprises in the background."""
    settings = get_settings().model_copy(update={"screening": ScreeningSettings(background_above=2)})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test", timeout=30) as client:
        yield client
    for task in list(getattr(app.state, "screening_runs", ())):
        await task
    await close_read_pool(app)
    await app.state.engine.dispose()


async def five_enterprises(c, as_, db) -> list[str]:
    codes = []
    for i in range(5):
        code = await add_enterprise(
            db, industry_code="3484", region_code="330106", name=f"西湖筛选{i}有限公司"
        )
        codes.append(code)
        if i < 3:  # two without indicators: incomplete
            figures = {**CHAMPION_2022, "total_liabilities": str(60_000_000 + i * 10_000_000)}
            r = await c.put(f"/v1/enterprises/{code}/indicators/2022", json=figures, headers=as_())
            assert r.status_code == 201, r.text
    return codes


def comparable(screening: dict) -> dict:
    return {k: v for k, v in screening.items() if k not in ("id", "created_at", "finished_at")}


async def poll(client, url: str, headers: dict, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "running":
            return r.json()
        assert time.monotonic() < deadline, f"still running: {r.json()['progress']}"
        await asyncio.sleep(0.2)


async def test_a_large_screening_answers_202_and_ends_done_with_the_answered_results(c, background, as_, db):
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106")
    answered = await c.post("/v1/screenings", json=SCREENING, headers=official)
    assert answered.status_code == 201, answered.text
    assert answered.json()["status"] == "done"
    assert answered.json()["progress"] == {"evaluated": 5, "total": 5}

    accepted = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "running" and body["candidates"]["items"] == []
    location = urljoin(str(accepted.url), accepted.headers["location"])
    assert location == f"http://registry.test/v1/screenings/{body['id']}"

    finished = await poll(background, location, official)
    assert finished["status"] == "done" and finished["error"] is None, finished
    assert finished["progress"] == {"evaluated": 5, "total": 5}
    assert comparable(finished) == comparable(answered.json())
    for outcome in ("eligible", "ineligible", "incomplete"):
        one = await c.get(
            f"/v1/screenings/{answered.json()['id']}", params={"outcome": outcome}, headers=official
        )
        other = await c.get(location, params={"outcome": outcome}, headers=official)
        assert one.json()["candidates"] == other.json()["candidates"]
    actions = await db.fetch(
        "SELECT action, after FROM registry.changes WHERE entity_type = 'screening' AND entity_key = $1 "
        "ORDER BY seq",
        str(body["id"]),
    )
    assert [a["action"] for a in actions] == ["created", "completed"]


async def test_a_run_whose_process_died_is_reported_failed(c, as_, db):
    sid = await db.fetchval(
        "INSERT INTO registry.screenings (tier, year, rule_set, rule_version, region, created_by, status, "
        "heartbeat_at) VALUES ('seedling', 2022, 'seedling-zj-2022', '2022-zj', '330106', 'someone', "
        "'running', now() - interval '1 hour') RETURNING id"
    )
    r = await c.get(f"/v1/screenings/{sid}", headers=as_("official", region="330106"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "failed" and out["error"]["code"] == "screening_abandoned"
    assert out["candidates"]["items"] == []


async def test_background_screenings_beyond_a_callers_limit_are_refused_with_429(c, background, as_, db):
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106", sub="busy-official")
    for _ in range(2):  # two runs holding their lease
        await db.execute(
            "INSERT INTO registry.screenings (tier, year, rule_set, rule_version, region, created_by, "
            "status, heartbeat_at) VALUES ('seedling', 2022, 'seedling-zj-2022', '2022-zj', '330106', "
            "'busy-official', 'running', now())"
        )
    r = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "too_many_screenings" and int(r.headers["retry-after"]) >= 1
    other = await background.post("/v1/screenings", json=SCREENING, headers=as_("official", region="330106"))
    assert other.status_code == 202
    await poll(
        background, urljoin(str(other.url), other.headers["location"]), as_("official", region="330106")
    )
