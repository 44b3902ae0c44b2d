"""Screenings over large regions run in the job worker (202, the screening and its job as status
resources) with the same results as a screening answered in its request; the job is stored with
the screening, so a worker started later still runs it."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urljoin

import pytest

from tests.registry.test_pool import CHAMPION_2022
from tests.registry_data import add_enterprise
from tests.support import registry_screening_in_background

SCREENING = {"tier": "champion_candidate", "year": 2022, "rule_set": "champion-zj-2022"}


@pytest.fixture
def c(client_for):
    return client_for("registry")


@pytest.fixture
async def background(database_url):
    """The registry screening every region of more than two enterprises in the background."""
    async with registry_screening_in_background(2) as client:
        yield client


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
    return {k: v for k, v in screening.items() if k not in ("id", "created_at", "finished_at", "job")}


async def poll(client, url: str, headers: dict, until=lambda b: b["status"] != "running", timeout_s=90):
    deadline = time.monotonic() + timeout_s
    seen = []
    while True:
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if until(r.json()):
            return r.json(), seen
        assert time.monotonic() < deadline, f"not there yet: {r.json()}"
        await asyncio.sleep(0.1)


async def test_a_large_screening_answers_202_and_the_worker_ends_it_done_with_the_answered_results(
    c, background, as_, db, in_process_worker
):
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106")
    answered = await c.post("/v1/screenings", json=SCREENING, headers=official)
    assert answered.status_code == 201, answered.text
    assert answered.json()["status"] == "done" and answered.json()["job"] is None
    assert answered.json()["progress"] == {"evaluated": 5, "total": 5}

    accepted = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "running" and body["candidates"]["items"] == []
    location = urljoin(str(accepted.url), accepted.headers["location"])
    assert location == f"http://registry.test/v1/screenings/{body['id']}"
    job = body["job"]
    assert job["status"] == "queued" and job["href"] == f"/registry/v1/jobs/{job['id']}"
    monitor = accepted.headers["link"]
    assert monitor == f'<../jobs/{job["id"]}>; rel="monitor"'
    job_url = urljoin(location, monitor[1 : monitor.index(">")])
    assert job_url == f"http://registry.test/v1/jobs/{job['id']}"
    # nothing runs it until a worker does: the job waits, queued, with the screening
    queued = await background.get(job_url, headers=official)
    assert queued.status_code == 200, queued.text
    assert queued.json()["status"] == "queued" and queued.json()["attempts"] == 0
    assert queued.json()["links"]["result"] == f"/registry/v1/screenings/{body['id']}"

    await in_process_worker()
    finished, _ = await poll(background, location, official)
    assert finished["status"] == "done" and finished["error"] is None, finished
    assert finished["progress"] == {"evaluated": 5, "total": 5}
    assert finished["job"]["status"] == "succeeded"
    assert comparable(finished) == comparable(answered.json())
    for outcome in ("eligible", "ineligible", "incomplete"):
        one = await c.get(
            f"/v1/screenings/{answered.json()['id']}", params={"outcome": outcome}, headers=official
        )
        other = await c.get(location, params={"outcome": outcome}, headers=official)
        assert one.json()["candidates"] == other.json()["candidates"]

    status = (await background.get(job_url, headers=official)).json()
    assert status["status"] == "succeeded" and status["error"] is None
    assert status["progress"] == {"done": 5, "total": 5} and status["attempts"] == 1
    assert status["result"] == {
        "screening_id": body["id"],
        "evaluated": 5,
        "eligible": finished["eligible"],
        "ineligible": finished["ineligible"],
        "incomplete": finished["incomplete"],
    }
    assert status["started_at"] and status["finished_at"]
    actions = await db.fetch(
        "SELECT action, after FROM registry.changes WHERE entity_type = 'screening' AND entity_key = $1 "
        "ORDER BY seq",
        str(body["id"]),
    )
    assert [a["action"] for a in actions] == ["created", "completed"]
    # the answered screening has its `completed` row too, with the same data
    answered_actions = await db.fetch(
        "SELECT action, after FROM registry.changes WHERE entity_type = 'screening' AND entity_key = $1 "
        "ORDER BY seq",
        str(answered.json()["id"]),
    )
    assert [a["action"] for a in answered_actions] == ["created", "completed"]
    assert answered_actions[1]["after"] == actions[1]["after"]


async def test_the_job_is_stored_with_the_screening_or_not_at_all(c, background, as_, db):
    """A refused screening (429) leaves neither a screening nor a job in the queue."""
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106", sub="busy-official")
    for _ in range(2):  # two not yet ended
        await db.execute(
            "INSERT INTO registry.screenings (tier, year, rule_set, rule_version, region, created_by, "
            "status) VALUES ('seedling', 2022, 'seedling-zj-2022', '2022-zj', '330106', 'busy-official', "
            "'running')"
        )
    r = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "too_many_screenings" and int(r.headers["retry-after"]) >= 1
    assert await db.fetchval("SELECT count(*) FROM registry.jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_jobs") == 0
    other = await background.post("/v1/screenings", json=SCREENING, headers=as_("official", region="330106"))
    assert other.status_code == 202
    queued = await db.fetch("SELECT task_name, args, status FROM jobs.procrastinate_jobs")
    job_id = other.json()["job"]["id"]
    assert [(q["task_name"], q["status"]) for q in queued] == [("registry.pool:screening", "todo")]
    assert await db.fetchval("SELECT queue_job_id FROM registry.jobs WHERE id = $1", job_id) is not None


async def test_another_official_cannot_read_the_job_and_a_bank_neither(c, background, as_, db):
    await five_enterprises(c, as_, db)
    official = as_("official", region="330106", sub="official-a")
    accepted = await background.post("/v1/screenings", json=SCREENING, headers=official)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job"]["id"]
    assert (await c.get(f"/v1/jobs/{job_id}", headers=official)).status_code == 200
    assert (await c.get(f"/v1/jobs/{job_id}", headers=as_())).status_code == 200  # admin
    for stranger in (
        as_("official", region="330106", sub="official-b"),  # same region, another person
        as_("official", region="330100", sub="official-a-city"),
        as_("bank", org="B001"),
    ):
        r = await c.get(f"/v1/jobs/{job_id}", headers=stranger)
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "not_found"
        missing = await c.get(f"/v1/jobs/{job_id + 1000}", headers=stranger)
        assert missing.json() == {
            **r.json(),
            "detail": missing.json()["detail"],
            "request_id": missing.json()["request_id"],
        }
