"""File submissions of loans: the file streamed in and answered at once, then validated and
written by the worker in chunks through the loan batch's own pipeline, resumable by chunk."""

import csv
import io

import pytest

from services.common.settings import get_settings
from services.finance import submissions as service
from services.finance.loans.schemas import LoanIn
from tests.finance.helpers import loan

FIELDS = list(LoanIn.model_fields)


def csv_of(records: list[dict], bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in r.items()})
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


async def submit(c, headers, body: bytes, **params):
    return await c.post(
        "/v1/submissions",
        content=body,
        headers={**headers, "content-type": "text/csv"},
        params={"kind": "loans", **params},
    )


def worker_settings(**submissions):
    """The worker's settings (its own database role), with `submissions` fields overridden."""
    settings = get_settings().for_process("worker")
    if submissions:
        group = settings.submissions.model_copy(update=submissions)
        settings = settings.model_copy(update={"submissions": group})
    return settings


async def test_good_lines_stored_bad_lines_reported_by_line_rule_and_pointer(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(5)]
    records[2]["annual_rate"] = "37"  # FIN-V006: line 4 (header line 1, first loan line 2)
    records[4]["matures_on"] = "2021-01-01"  # FIN-V007: before issued_on, line 6
    body = csv_of(records)
    r = await submit(c, bank, body)
    assert r.status_code == 202, r.text
    sub = r.json()
    assert r.headers["location"] == f"submissions/{sub['id']}"  # relative to the posted URL
    assert sub["links"]["self"] == f"/finance/v1/submissions/{sub['id']}"
    assert sub["status"] == "received" and sub["kind"] == "loans"
    import hashlib

    assert sub["sha256"] == hashlib.sha256(body).hexdigest()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM jobs.procrastinate_jobs WHERE task_name = $1",
            "finance.submissions:submission",
        )
        == 1
    )

    await service.process(worker_settings(), sub["id"])

    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed_with_errors"
    assert done["rows_total"] == done["rows_done"] == 5
    assert done["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 2}
    stored = {
        r["loan_ref"] for r in await db.fetch("SELECT loan_ref FROM finance.loans WHERE lender = 'B001'")
    }
    assert stored == {records[i]["loan_ref"] for i in (0, 1, 3)}

    page = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=bank)).json()
    errors = [f for f in page["items"] if f["severity"] == "error"]
    assert [(f["line"], f["rule"], f["pointer"], f["key"]) for f in errors] == [
        (4, "FIN-V006", "/lines/4/annual_rate", records[2]["loan_ref"]),
        (6, "FIN-V007", "/lines/6/matures_on", records[4]["loan_ref"]),
    ]
    only = (
        await c.get(f"/v1/submissions/{sub['id']}/findings", headers=bank, params={"rule": "FIN-V007"})
    ).json()
    assert [f["line"] for f in only["items"]] == [6]

    first = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=bank, params={"limit": 1})).json()
    second = (
        await c.get(
            f"/v1/submissions/{sub['id']}/findings",
            headers=bank,
            params={"limit": 1, "cursor": first["next_cursor"]},
        )
    ).json()
    assert first["items"][0] != second["items"][0]

    report = await c.get(f"/v1/submissions/{sub['id']}/report.csv", headers=bank)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.text)))
    assert lines[0] == ["line", "key", "status", "rule", "severity", "pointer", "message"]
    assert ["4", records[2]["loan_ref"], "rejected", "FIN-V006", "error", "/lines/4/annual_rate"] == lines[1][
        :6
    ] or any(
        row[:6] == ["4", records[2]["loan_ref"], "rejected", "FIN-V006", "error", "/lines/4/annual_rate"]
        for row in lines[1:]
    )


async def test_validate_only_writes_nothing(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(3)]
    records[1]["amount"] = "-5"
    sub = (await submit(c, bank, csv_of(records), mode="validate_only")).json()
    assert sub["validate_only"] is True
    await service.process(worker_settings(), sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed_with_errors"
    assert done["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0
    # no record's change: only the submission's end (its `submission.completed` event)
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE entity_type <> 'submission'") == 0
    found = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=bank)).json()["items"]
    assert [(f["line"], f["pointer"]) for f in found if f["severity"] == "error"] == [(3, "/lines/3/amount")]


class Stop(Exception):
    pass


async def test_a_run_stopped_after_its_first_chunk_resumes_without_writing_it_twice(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(5)]
    sub = (await submit(c, bank, csv_of(records))).json()
    # chunks of 2 lines (fixed at upload from the service's settings; set here on the row)
    await db.execute("UPDATE finance.submissions SET chunk_rows = 2 WHERE id = $1", sub["id"])

    async def stop_after_first(index: int) -> None:
        if index == 0:
            raise Stop

    with pytest.raises(Stop):
        await service.process(worker_settings(), sub["id"], after_chunk=stop_after_first)
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 2
    mid = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert mid["status"] == "validating" and mid["rows_done"] == 2

    await service.process(worker_settings(), sub["id"])  # the retry: chunks 1 and 2 (lines 4–6)
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed" and done["rows_done"] == 5
    assert done["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 5
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE entity_type = 'loan'") == 5
    assert await db.fetchval("SELECT chunks_done FROM finance.submissions WHERE id = $1", sub["id"]) == 3

    await service.process(worker_settings(), sub["id"])  # an ended submission: nothing more
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE entity_type = 'loan'") == 5


async def test_another_banks_submission_is_a_404(client_for, as_):
    c = client_for("finance")
    sub = (await submit(c, as_("bank", org="B001"), csv_of([loan()]))).json()
    other = as_("bank", org="B002")
    for tail in ("", "/findings", "/report.csv"):
        r = await c.get(f"/v1/submissions/{sub['id']}{tail}", headers=other)
        assert r.status_code == 404, (tail, r.text)
        assert r.json()["code"] == "not_found"


async def test_a_body_announced_over_the_limit_is_413_before_it_is_read(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    limit = get_settings().submissions.max_bytes
    read = []

    async def body():
        read.append(1)
        yield b"loan_ref\r\n"

    r = await c.post(
        "/v1/submissions",
        content=body(),
        params={"kind": "loans"},
        headers={**bank, "content-type": "text/csv", "content-length": str(limit + 1)},
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert str(limit) in r.json()["detail"]


async def test_a_body_over_the_json_limit_is_taken_by_the_submission_route(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    # the JSON routes' limit does not apply to a submission (only its own does)
    assert get_settings().submissions.max_bytes > get_settings().max_body_bytes
    r = await c.post(
        "/v1/loans/batch",
        content=b"x",
        headers={**bank, "content-length": str(get_settings().max_body_bytes + 1)},
    )
    assert r.status_code == 413


async def test_only_csv_is_taken(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    r = await c.post(
        "/v1/submissions",
        content=b"{}",
        params={"kind": "loans"},
        headers={**bank, "content-type": "application/json"},
    )
    assert r.status_code == 415 and r.json()["code"] == "submission_unsupported_type"


async def test_an_unreadable_file_fails_the_submission_with_a_reason(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    sub = (await submit(c, bank, b"loan_ref\r\n" + b"\xff\xfe\r\n")).json()
    await service.process(worker_settings(), sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "failed" and done["error"]["code"] == "submission_unreadable"


async def test_the_template_is_the_batch_fields_with_a_sample_line_that_validates(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    r = await c.get("/v1/submissions/template", params={"kind": "loans", "format": "csv"}, headers=bank)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, sample = list(csv.reader(io.StringIO(r.text)))
    assert header == FIELDS
    # the template, submitted as it is, stores its sample loan
    sub = (await submit(c, bank, r.content)).json()
    await service.process(worker_settings(), sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["counts"]["created"] == 1, done
    assert await db.fetchval("SELECT loan_ref FROM finance.loans") == sample[0]


async def test_the_worker_runs_a_submission_it_finds_in_the_queue(client_for, as_, db, in_process_worker):
    import asyncio

    c, bank = client_for("finance"), as_("bank", org="B001")
    sub = (await submit(c, bank, csv_of([loan(), loan()]))).json()
    await in_process_worker()
    for _ in range(200):
        done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
        if done["status"] not in ("received", "validating"):
            break
        await asyncio.sleep(0.05)
    assert done["status"] == "completed", done
    assert done["counts"]["created"] == 2
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'B001'") == 2


async def test_the_same_file_with_the_same_idempotency_key_is_the_same_submission(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    body = csv_of([loan(), loan()])
    keyed = {**bank, "Idempotency-Key": "return-2022-03"}
    first = await submit(c, keyed, body)
    again = await submit(c, keyed, body)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM finance.submissions") == 1
    assert await db.fetchval("SELECT count(*) FROM jobs.procrastinate_jobs") == 1
    # the key with another file is refused; another bank's same key is its own submission
    other_file = await submit(c, keyed, csv_of([loan()]))
    assert other_file.status_code == 422 and other_file.json()["code"] == "idempotency_key_reused"
    theirs = await submit(c, {**as_("bank", org="B002"), "Idempotency-Key": "return-2022-03"}, body)
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    bad = await submit(c, {**bank, "Idempotency-Key": "x" * 300}, body)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_idempotency_key"
    # every file kept is a submission's (a refused or replayed upload leaves none behind)
    kept = sorted(p.name for p in get_settings().submissions_dir().iterdir())
    ids = [r["file"] for r in await db.fetch("SELECT file FROM finance.submissions")]
    assert set(ids) <= set(kept) and not [k for k in kept if k.startswith(".upload-")]
