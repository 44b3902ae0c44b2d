"""Asynchronous exports: `POST /v1/exports` answers 202 with a job; the worker writes the very
file `GET /v1/enterprises/export` streams (same code, same filters and scope), kept in the
database in chunks; only its owner reads the job and the file; the file expires."""

from __future__ import annotations

import asyncio
import io
import time
from urllib.parse import urljoin

import pytest
from openpyxl import load_workbook

from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


OWNER = {"kind": "official", "region": "330106", "sub": "export-owner"}


async def some_enterprises(db) -> None:
    for i in range(7):
        await add_enterprise(db, region_code="330106", name=f"西湖导出{i}有限公司", titles=["tech_sme"])
    await add_enterprise(db, region_code="330102", name="上城导出有限公司")  # another county of Hangzhou
    await add_enterprise(db, region_code="330203", name="宁波导出有限公司")  # outside the city


async def finished(c, url: str, headers: dict, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        r = await c.get(url, headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("succeeded", "failed"):
            return r.json()
        assert time.monotonic() < deadline, r.json()
        await asyncio.sleep(0.1)


async def test_an_export_answers_202_and_the_worker_writes_the_same_file_the_download_streams(
    c, as_, db, in_process_worker, monkeypatch
):
    await some_enterprises(db)
    owner = as_(**OWNER)
    query = {"format": "csv", "title": "tech_sme"}
    accepted = await c.post("/v1/exports", json=query, headers=owner)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["kind"] == "export" and job["status"] == "queued" and job["links"]["result"] is None
    location = urljoin(str(accepted.url), accepted.headers["location"])
    assert location == f"http://registry.test/v1/jobs/{job['id']}"
    assert job["links"]["self"] == f"/registry/v1/jobs/{job['id']}"

    early = await c.get(f"/v1/exports/{job['id']}/file", headers=owner)
    assert early.status_code == 409 and early.json()["code"] == "export_not_ready", early.text

    # small chunks: the file is assembled from several
    monkeypatch.setattr("services.registry.exports.tasks.CHUNK_BYTES", 200)
    await in_process_worker()
    done = await finished(c, location, owner)
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"done": 7, "total": 7}
    assert done["result"]["rows"] == 7 and done["result"]["format"] == "csv"
    file_url = f"/registry/v1/exports/{job['id']}/file"
    assert done["links"]["result"] == file_url
    chunks = await db.fetchval("SELECT count(*) FROM registry.export_chunks WHERE job_id = $1", job["id"])
    assert chunks > 1

    got = await c.get(f"/v1/exports/{job['id']}/file", headers=owner)
    assert got.status_code == 200, got.text
    streamed = await c.get("/v1/enterprises/export", params=query, headers=owner)
    assert got.content == streamed.content
    assert got.headers["content-type"] == streamed.headers["content-type"]
    assert got.headers["content-disposition"] == 'attachment; filename="enterprises.csv"'
    assert int(got.headers["content-length"]) == len(got.content) == done["result"]["size"]


async def test_an_xlsx_export_holds_the_cells_of_the_streamed_one(c, as_, db, in_process_worker):
    await some_enterprises(db)
    owner = as_(**OWNER)
    accepted = await c.post("/v1/exports", json={"format": "xlsx"}, headers=owner)
    assert accepted.status_code == 202, accepted.text
    await in_process_worker()
    await finished(c, urljoin(str(accepted.url), accepted.headers["location"]), owner)
    got = await c.get(f"/v1/exports/{accepted.json()['id']}/file", headers=owner)
    streamed = await c.get("/v1/enterprises/export", params={"format": "xlsx"}, headers=owner)

    def cells(content: bytes) -> list[tuple]:
        return [tuple(c.value for c in row) for row in load_workbook(io.BytesIO(content)).active.iter_rows()]

    assert got.headers["content-disposition"] == 'attachment; filename="enterprises.xlsx"'
    assert cells(got.content) == cells(streamed.content)
    assert len(cells(got.content)) == 1 + 7  # the header row, the county's seven


async def test_only_the_owner_reads_the_export_and_its_file(c, as_, db, in_process_worker):
    await some_enterprises(db)
    owner = as_(**OWNER)
    accepted = await c.post("/v1/exports", json={}, headers=owner)
    job_id = accepted.json()["id"]
    await in_process_worker()
    await finished(c, f"/v1/jobs/{job_id}", owner)
    assert (await c.get(f"/v1/exports/{job_id}/file", headers=owner)).status_code == 200
    for stranger in (
        as_("official", region="330106", sub="another-official"),
        as_("official", region="330100", sub="the-city"),  # above the owner's region: still not theirs
    ):
        for path in (f"/v1/jobs/{job_id}", f"/v1/exports/{job_id}/file"):
            r = await c.get(path, headers=stranger)
            assert r.status_code == 404, (path, r.text)
    bank = await c.get(f"/v1/jobs/{job_id}", headers=as_("bank", org="B001"))
    assert bank.status_code == 404
    assert (await c.get(f"/v1/exports/{job_id}/file", headers=as_("bank", org="B001"))).status_code == 403
    assert (await c.get(f"/v1/exports/{job_id}/file", headers=as_())).status_code == 200  # admin


async def test_a_bank_reads_only_its_own_institutions_jobs(c, as_, db):
    """The owner rule of every job (services/common/jobs.py): an institution's, or a person's."""
    from services.common.auth import Principal
    from services.common.jobs import enqueue

    async with db.transaction():
        job_id = await enqueue(
            db,
            "registry",
            kind="export",
            task_name="registry.exports:export",
            principal=Principal(sub="client-1", kind="bank", org="B001"),
            params={"query": {}},
        )
    mine = await c.get(f"/v1/jobs/{job_id}", headers=as_("bank", org="B001", sub="client-2"))
    assert mine.status_code == 200 and mine.json()["status"] == "queued"
    theirs = await c.get(f"/v1/jobs/{job_id}", headers=as_("bank", org="B002", sub="client-1"))
    assert theirs.status_code == 404
    guarantor = await c.get(f"/v1/jobs/{job_id}", headers=as_("guarantor", org="B001", sub="client-1"))
    assert guarantor.status_code == 404


async def test_a_region_outside_the_callers_is_refused_before_anything_is_queued(c, as_, db):
    r = await c.post("/v1/exports", json={"region": "3302"}, headers=as_(**OWNER))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "region_out_of_scope" and r.json()["errors"][0]["pointer"] == "/region"
    bad = await c.post("/v1/exports", json={"format": "pdf", "colour": "red"}, headers=as_(**OWNER))
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {"/format", "/colour"}
    assert await db.fetchval("SELECT count(*) FROM registry.jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_jobs") == 0


async def test_exports_beyond_a_callers_limit_are_refused_with_429(c, as_, db):
    owner = as_(**OWNER)
    for _ in range(2):
        assert (await c.post("/v1/exports", json={}, headers=owner)).status_code == 202
    r = await c.post("/v1/exports", json={}, headers=owner)
    assert r.status_code == 429 and r.json()["code"] == "too_many_exports", r.text
    assert int(r.headers["retry-after"]) >= 1
    other = await c.post("/v1/exports", json={}, headers=as_("official", region="330106", sub="someone-else"))
    assert other.status_code == 202


async def test_an_expired_file_is_gone_410(c, as_, db, in_process_worker):
    await some_enterprises(db)
    owner = as_(**OWNER)
    job_id = (await c.post("/v1/exports", json={}, headers=owner)).json()["id"]
    await in_process_worker()
    done = await finished(c, f"/v1/jobs/{job_id}", owner)
    expires = await db.fetchval("SELECT expires_at FROM registry.export_files WHERE job_id = $1", job_id)
    assert done["result"]["expires_at"] == expires.isoformat()
    await db.execute(
        "UPDATE registry.export_files SET expires_at = now() - interval '1 second' WHERE job_id = $1", job_id
    )
    r = await c.get(f"/v1/exports/{job_id}/file", headers=owner)
    assert r.status_code == 410 and r.json()["code"] == "export_expired", r.text


async def test_hostile_job_and_export_requests_are_4xx_problems_and_queue_nothing(c, as_, db):
    official = as_("official", region="330106")
    cases = [
        ("get", "/v1/jobs/0", None, 422),
        ("get", f"/v1/jobs/{2**63}", None, 422),
        ("get", "/v1/jobs/1%00", None, 422),
        ("get", "/v1/jobs/abc", None, 422),
        ("get", f"/v1/exports/{2**63}/file", None, 422),
        ("get", "/v1/jobs/999", None, 404),  # no such job: as one of another caller
        ("post", "/v1/exports", {"format": "pdf"}, 422),
        ("post", "/v1/exports", {"format": "csv", "region": "33\x0001"}, 422),
        ("post", "/v1/exports", b'{"format": "csv", "q": "\\ud800"}', 422),  # a lone surrogate
        ("post", "/v1/exports", {"format": "csv", "q": "精" * 100_000}, 422),
        ("post", "/v1/exports", {"format": "csv", "surprise": 1}, 422),
        ("post", "/v1/exports", [1, 2], 422),
    ]
    for method, path, body, status in cases:
        if method == "get":
            r = await c.get(path, headers=official)
        elif isinstance(body, bytes):
            r = await c.post(path, content=body, headers={**official, "content-type": "application/json"})
        else:
            r = await c.post(path, json=body, headers=official)
        assert r.status_code == status, (path, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), (path, r.text)
    assert await db.fetchval("SELECT count(*) FROM registry.jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_jobs") == 0
