"""The files of submissions: an XLSX of every kind goes the way of its CSV (the same rows, the same
rules, line numbers the sheet's), the templates of each kind in both formats parse back and store
their sample, the report's header in English or Chinese, files kept in a directory or an S3 bucket
(moto's server, started here) and deleted by retention after EAGLET_SUBMISSIONS__RETENTION_DAYS;
and what a hostile file does: a wrong type is a 415, a workbook that is no zip or a zip bomb
fails its submission with the reason, a NUL or a lone surrogate in a cell is a finding or a
failed submission, never a 500."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from services.common import tabular
from services.common.db import plain_url
from services.common.settings import get_settings
from services.jobs.retention import RETENTION, submission_files, unclaimed_files
from tests.common.test_submission_store import BUCKET, s3_endpoint  # noqa: F401 - the fixture
from tests.common.test_submissions_kit import CASES, IDS, SERVICES, arranged, csv_of, run  # noqa: F401
from tests.finance.helpers import loan

XLSX = tabular.MEDIA["xlsx"]


def xlsx_of(fields: list[str], records: list[dict[str, Any]]) -> bytes:
    """A workbook as a filer's spreadsheet holds it: a header row, one row per record (text cells,
    but numbers and booleans as Excel types them)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(fields)
    for r in records:
        sheet.append([_typed(r.get(f)) for f in fields])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _typed(value: Any) -> Any:
    """Numbers, booleans and dates as Excel types them; anything else as text."""
    import datetime as dt

    if value is None or isinstance(value, bool | int | float | dt.date):
        return value
    return str(value)


async def upload(c, headers, kind: str, body: bytes, media: str = "text/csv", **params):
    return await c.post(
        "/v1/submissions",
        content=body,
        headers={**headers, "content-type": media},
        params={"kind": kind, **params},
    )


def settings_with(**submissions):
    settings = get_settings()
    return settings.model_copy(update={"submissions": settings.submissions.model_copy(update=submissions)})


# ---- XLSX of every kind ---------------------------------------------------------------------


@pytest.mark.usefixtures("arranged")
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_an_xlsx_of_each_kind_is_completed_with_its_records_stored(case, client_for, as_, db):
    c, who = client_for(case.service), as_(**case.caller)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    records = case.records()
    good = [records[0], records[2]]
    r = await upload(c, who, case.kind, xlsx_of(kind.fields, good), XLSX)
    assert r.status_code == 202, r.text
    assert r.json()["format"] == "xlsx"
    await run(case.service, r.json()["id"])
    done = (await c.get(f"/v1/submissions/{r.json()['id']}", headers=who)).json()
    assert done["status"] == "completed", done
    assert done["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    stored = {row[0] for row in await db.fetch(f"SELECT {case.key} FROM {case.table}")}
    assert {g[case.key] for g in good} <= stored


@pytest.mark.usefixtures("arranged")
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_an_xlsx_with_a_bad_row_reports_it_by_row_rule_and_pointer_and_stores_the_good(
    case, client_for, as_, db
):
    c, who = client_for(case.service), as_(**case.caller)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    records = case.records()
    sub = (await upload(c, who, case.kind, xlsx_of(kind.fields, records), XLSX)).json()
    await run(case.service, sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=who)).json()
    assert done["status"] == "completed_with_errors" and done["counts"]["created"] == 2, done
    stored = {row[0] for row in await db.fetch(f"SELECT {case.key} FROM {case.table}")}
    assert {records[0][case.key], records[2][case.key]} <= stored and records[1][case.key] not in stored
    found = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=who)).json()["items"]
    rule, field = case.bad
    errors = [(f["line"], f["rule"], f["pointer"]) for f in found if f["severity"] == "error"]
    assert errors == [(3, rule, f"/lines/3/{field}")]  # the sheet's row 3: the header is row 1


async def test_an_xlsx_as_excel_types_it_numbers_dates_and_booleans_is_read_as_its_text(client_for, as_, db):
    import datetime as dt

    c, bank = client_for("finance"), as_("bank", org="B001")
    typed = loan()
    typed |= {
        "amount": 1000000,
        "annual_rate": 4.35,
        "outstanding_balance": 250000.5,
        "issued_on": dt.datetime(2022, 3, 1),  # a date cell: Excel keeps a datetime at midnight
        "matures_on": dt.date(2023, 3, 1),
        "is_first_loan": True,
    }
    sub = (await upload(c, bank, "loans", xlsx_of(list(typed), [typed]), XLSX)).json()
    await run("finance", sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed" and done["counts"]["created"] == 1, done
    row = await db.fetchrow(
        "SELECT amount, annual_rate, outstanding_balance, issued_on, matures_on, is_first_loan "
        "FROM finance.loans WHERE loan_ref = $1",
        typed["loan_ref"],
    )
    assert (str(row["amount"]), str(row["annual_rate"]), str(row["outstanding_balance"])) == (
        "1000000.00",
        "4.3500",
        "250000.50",
    )
    assert (row["issued_on"], row["matures_on"], row["is_first_loan"]) == (
        dt.date(2022, 3, 1),
        dt.date(2023, 3, 1),
        True,
    )


# ---- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", tabular.FORMATS)
@pytest.mark.usefixtures("arranged")
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_each_kinds_template_parses_back_and_its_sample_is_stored(
    case, fmt, client_for, as_, db, tmp_path
):
    c, who = client_for(case.service), as_(**case.caller)
    kind = SERVICES[case.service].SUBMISSIONS.kind(case.kind)
    r = await c.get("/v1/submissions/template", params={"kind": case.kind, "format": fmt}, headers=who)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == tabular.MEDIA[fmt]
    assert r.headers["content-disposition"] == f'attachment; filename="{case.kind}-template.{fmt}"'
    path = tmp_path / f"template.{fmt}"
    path.write_bytes(r.content)
    (_, header), (_, sample) = list(tabular.rows(path, fmt))
    assert header == kind.fields
    assert sample[0] == tabular.cell_text(kind.sample[kind.fields[0]])
    # the template as it is, uploaded, stores its sample line
    sub = (await upload(c, who, case.kind, r.content, tabular.MEDIA[fmt])).json()
    await run(case.service, sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=who)).json()
    assert done["status"] == "completed" and done["counts"]["created"] == 1, done
    assert await db.fetchval(f"SELECT count(*) FROM {case.table}") == 1


async def test_a_template_of_another_format_is_a_422_with_its_pointer(client_for, as_):
    r = await client_for("finance").get(
        "/v1/submissions/template", params={"kind": "loans", "format": "ods"}, headers=as_("bank", org="B001")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/format", r.text


# ---- the report -------------------------------------------------------------------------------


async def test_the_report_has_english_headers_by_default_and_chinese_with_lang_zh(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    sub = (await upload(c, bank, "loans", csv_of(list(loan()), [loan(), loan(annual_rate="37")]))).json()
    await run("finance", sub["id"])
    reports = {}
    for lang in (None, "en", "zh"):
        params = {"lang": lang} if lang else {}
        r = await c.get(f"/v1/submissions/{sub['id']}/report.csv", params=params, headers=bank)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
        reports[lang] = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    assert reports[None] == reports["en"]
    assert tuple(reports["en"][0]) == tabular.REPORT_COLUMNS
    assert (
        tuple(reports["zh"][0])
        == tabular.REPORT_HEADERS["zh"]
        == ("行号", "记录标识", "状态", "规则", "严重程度", "位置", "说明")
    )
    assert reports["zh"][1:] == reports["en"][1:] and "3" in {row[0] for row in reports["en"][1:]}
    r = await c.get(f"/v1/submissions/{sub['id']}/report.csv", params={"lang": "fr"}, headers=bank)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/query/lang", r.text


# ---- hostile files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media", ["application/json", "text/plain", "application/vnd.ms-excel", "", "text/csv\x7f"]
)
async def test_a_body_of_another_type_is_a_415_naming_the_accepted_types(media, client_for, as_, db):
    c = client_for("finance")
    r = await upload(c, as_("bank", org="B001"), "loans", b"loan_ref\r\nL1\r\n", media)
    assert r.status_code == 415, r.text
    problem = r.json()
    assert problem["code"] == "submission_unsupported_type"
    assert problem["errors"][0]["pointer"] == "#/header/content-type"
    assert "text/csv" in problem["detail"] and XLSX in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM finance.submissions") == 0


async def test_the_xlsx_media_type_with_parameters_and_any_case_is_taken(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    body = xlsx_of(list(loan()), [loan()])
    r = await upload(c, bank, "loans", body, XLSX.upper() + "; charset=binary")
    assert r.status_code == 202 and r.json()["format"] == "xlsx", r.text


def zip_bomb() -> bytes:
    """A workbook whose parts declare about 8 GiB unpacked (its central directory's sizes, as a
    bomb's are), in a file of a few kilobytes."""
    good = xlsx_of(["loan_ref"], [{"loan_ref": "L1"}])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for part in src.infolist():
            z.writestr(part.filename, src.read(part))
        z.writestr("xl/media/a.xml", b" " * 1000)
        z.writestr("xl/media/b.xml", b" " * 1000)
    data = bytearray(out.getvalue())
    for name in (b"xl/media/a.xml", b"xl/media/b.xml"):
        at = data.rindex(b"PK\x01\x02", 0, data.rindex(name))  # its central directory entry
        struct.pack_into("<I", data, at + 24, 0xFFFF_FFF0)  # uncompressed size
    return bytes(data)


def no_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "a zip, but of no workbook")
    return out.getvalue()


HOSTILE_WORKBOOKS = {
    "not a zip": (b"loan_ref\r\nL1\r\n", "not a zip archive"),
    "cut short": (xlsx_of(["loan_ref"], [{"loan_ref": "L1"}])[:600], "not an XLSX workbook"),
    "zip bomb": (zip_bomb(), "unpacks to"),
    "a zip of no workbook": (no_workbook(), "not an XLSX workbook"),
}


@pytest.mark.parametrize("name", list(HOSTILE_WORKBOOKS))
async def test_a_workbook_that_cannot_be_read_fails_its_submission_with_the_reason(name, client_for, as_, db):
    body, why = HOSTILE_WORKBOOKS[name]
    c, bank = client_for("finance"), as_("bank", org="B001")
    sub = (await upload(c, bank, "loans", body, XLSX)).json()
    await run("finance", sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "submission_unreadable" and why in done["error"]["detail"], done
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0
    r = await c.post(f"/v1/submissions/{sub['id']}/retry", headers=bank)  # no retry mends it
    assert r.status_code == 409 and r.json()["code"] == "submission_file_unreadable"


async def test_a_nul_in_a_cell_is_a_finding_of_its_line(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    good, bad = loan(), loan()
    bad["loan_ref"] = "L\x00" + bad["loan_ref"]
    bad["borrower_name"] = "杭州\x00测试科技有限公司"
    sub = (await upload(c, bank, "loans", csv_of(list(good), [good, bad]))).json()
    await run("finance", sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "completed_with_errors" and done["counts"]["created"] == 1, done
    found = (await c.get(f"/v1/submissions/{sub['id']}/findings", headers=bank)).json()["items"]
    found = [f for f in found if f["severity"] == "error"]
    assert found and {(f["line"], f["rule"]) for f in found} == {(3, "FIN-V017")}
    assert all(f["pointer"].startswith("/lines/3/") and "\x00" not in (f["key"] or "") for f in found)
    r = await c.get(f"/v1/submissions/{sub['id']}/report.csv", headers=bank)
    assert r.status_code == 200 and "\x00" not in r.text
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 1


async def test_a_lone_surrogate_in_a_csv_fails_it_as_not_utf8_with_the_byte(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    head = b"loan_ref\r\n"
    body = head + b"L\xed\xa0\x80\r\n"  # U+D800 encoded as UTF-8 would be: no UTF-8 text holds it
    sub = (await upload(c, bank, "loans", body)).json()
    await run("finance", sub["id"])
    done = (await c.get(f"/v1/submissions/{sub['id']}", headers=bank)).json()
    assert done["status"] == "failed" and done["error"]["code"] == "submission_unreadable", done
    assert f"at byte {len(head) + 1}" in done["error"]["detail"]


# ---- retention --------------------------------------------------------------------------------


async def worker_conn() -> asyncpg.Connection:
    """A connection as the worker, which runs retention (its grants are what is tested)."""
    return await asyncpg.connect(plain_url(get_settings().for_process("worker").database_url))


async def ended_days_ago(db, schema: str, submission_id: int, days: float) -> None:
    """Move a submission's end back in time (no waiting for it)."""
    await db.execute(
        f"UPDATE {schema}.submissions SET finished_at = now() - make_interval(secs => $2) WHERE id = $1",
        submission_id,
        days * 86400,
    )


async def test_retention_deletes_the_files_of_submissions_ended_long_ago_and_keeps_their_findings(
    client_for, as_, db
):
    assert ("submission files", submission_files) in RETENTION
    c, bank = client_for("finance"), as_("bank", org="B001")
    days = get_settings().submissions.retention_days
    body = csv_of(list(loan()), [loan(), loan(annual_rate="37")])
    old, recent = [(await upload(c, bank, "loans", body)).json()["id"] for _ in range(2)]
    running = (await upload(c, bank, "loans", body)).json()["id"]  # never ends: kept
    for sid in (old, recent):
        await run("finance", sid)
    await ended_days_ago(db, "finance", old, days + 0.01)
    await ended_days_ago(db, "finance", recent, days - 0.01)
    directory = get_settings().submissions_dir()
    files = {
        sid: await db.fetchval("SELECT file FROM finance.submissions WHERE id = $1", sid)
        for sid in (old, recent, running)
    }
    assert all((directory / f).is_file() for f in files.values())

    conn = await worker_conn()
    try:
        assert await submission_files(conn, get_settings(), None) == 1
        assert await submission_files(conn, get_settings(), None) == 0  # nothing left to do
    finally:
        await conn.close()

    assert not (directory / files[old]).exists()
    assert (directory / files[recent]).is_file() and (directory / files[running]).is_file()
    gone = (await c.get(f"/v1/submissions/{old}", headers=bank)).json()
    assert gone["file_removed_at"] is not None and gone["counts"]["rejected"] == 1
    assert (await c.get(f"/v1/submissions/{recent}", headers=bank)).json()["file_removed_at"] is None
    found = (await c.get(f"/v1/submissions/{old}/findings", headers=bank)).json()["items"]
    assert [f["line"] for f in found if f["severity"] == "error"] == [3]
    # an expired submission past retention loses its file too, and is then no longer retried
    await db.execute(
        "UPDATE finance.submissions SET status = 'expired', file_removed_at = NULL WHERE id = $1", recent
    )
    await ended_days_ago(db, "finance", recent, days + 1)
    conn = await worker_conn()
    try:
        assert await submission_files(conn, get_settings(), None) == 1
    finally:
        await conn.close()
    r = await c.post(f"/v1/submissions/{recent}/retry", headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "submission_file_unreadable", r.text
    assert "retention" in r.json()["detail"]


def aged(path, seconds: float) -> None:
    """Set a file's modification time `seconds` into the past."""
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_retention_deletes_files_no_submission_names_and_scratch_files_left_for_a_day(
    client_for, as_, db
):
    assert ("unclaimed submission files", unclaimed_files) in RETENTION
    c, bank = client_for("finance"), as_("bank", org="B001")
    sid = (await upload(c, bank, "loans", csv_of(list(loan()), [loan()]))).json()["id"]
    directory = get_settings().submissions_dir()
    claimed = directory / await db.fetchval("SELECT file FROM finance.submissions WHERE id = $1", sid)
    two_hours, two_days = 2 * 3600, 2 * 86400
    unclaimed = directory / "finance-987654321.csv"  # a file whose submission never committed
    young = directory / "standards-987654322.xlsx"  # unclaimed, but its request may still commit
    stale_upload = directory / ".upload-0123456789abcdef"  # a process stopped mid-upload
    live_upload = directory / ".upload-fedcba9876543210"
    stale_download = directory / ".download-00112233445566aa-finance-1.csv"
    foreign = directory / "notes.csv"  # not a name of ours
    # nor these: a service without submissions (its name would be a schema in SQL), an id past
    # bigint, a name with more after it
    not_ours = [
        directory / n for n in ("jobs-5.csv", "finance-12345678901234567890.csv", "finance-5.csv.bak")
    ]
    for f in (unclaimed, young, stale_upload, live_upload, stale_download, foreign, *not_ours):
        f.write_bytes(b"x")
    for f, age in ((claimed, two_days), (unclaimed, two_hours), (stale_upload, two_days),
                   (live_upload, 3600), (stale_download, two_days), (foreign, two_days),
                   *((f, two_days) for f in not_ours)):  # fmt: skip
        aged(f, age)

    conn = await worker_conn()
    try:
        assert await unclaimed_files(conn, get_settings(), None) == 3
        assert await unclaimed_files(conn, get_settings(), None) == 0
    finally:
        await conn.close()
    assert not unclaimed.exists() and not stale_upload.exists() and not stale_download.exists()
    assert claimed.is_file() and young.is_file() and live_upload.is_file() and foreign.is_file()
    assert all(f.is_file() for f in not_ours)
    for f in (young, live_upload, foreign, *not_ours):
        f.unlink()


async def test_a_submission_whose_transaction_fails_to_commit_leaves_no_file(
    client_for, as_, db, monkeypatch
):
    from sqlalchemy.ext.asyncio import AsyncSession

    c, bank = client_for("finance"), as_("bank", org="B001")
    directory = get_settings().submissions_dir()
    before = set(directory.iterdir()) if directory.exists() else set()
    commit = AsyncSession.commit
    calls: list[int] = []

    async def fails_once(self):
        if not calls:
            calls.append(1)
            raise asyncpg.SerializationError("could not serialize access")
        return await commit(self)

    monkeypatch.setattr(AsyncSession, "commit", fails_once)
    r = await upload(c, bank, "loans", csv_of(list(loan()), [loan()]))
    assert calls and r.status_code == 503 and r.json()["code"] == "transaction_conflict", r.text
    assert await db.fetchval("SELECT count(*) FROM finance.submissions WHERE request_id = $1",
                             r.json()["request_id"]) == 0  # fmt: skip
    assert not set(directory.iterdir()) - before  # neither the kept file nor the upload


async def test_a_submission_whose_object_store_upload_fails_stores_no_row(client_for, as_, db, monkeypatch):
    from services.common import submission_store

    async def refused(self, local, name):
        raise OSError("the store is unreachable")

    c, bank = client_for("finance"), as_("bank", org="B001")
    rows = await db.fetchval("SELECT count(*) FROM finance.submissions")
    monkeypatch.setattr(submission_store.DirectoryStore, "keep", refused)
    r = await upload(c, bank, "loans", csv_of(list(loan()), [loan()]))
    assert r.status_code >= 500 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert await db.fetchval("SELECT count(*) FROM finance.submissions") == rows
    assert not list(get_settings().submissions_dir().glob(".upload-*"))


async def test_a_retry_of_a_submission_whose_file_is_no_longer_kept_is_a_409(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    sid = (await upload(c, bank, "loans", csv_of(list(loan()), [loan()]))).json()["id"]
    await db.execute(
        "UPDATE finance.submissions SET status = 'expired', finished_at = now() WHERE id = $1", sid
    )
    file = await db.fetchval("SELECT file FROM finance.submissions WHERE id = $1", sid)
    (get_settings().submissions_dir() / file).unlink()
    r = await c.post(f"/v1/submissions/{sid}/retry", headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "submission_file_unreadable", r.text
    assert await db.fetchval("SELECT status FROM finance.submissions WHERE id = $1", sid) == "expired"


# ---- the whole kit on an S3 bucket ------------------------------------------------------------


@pytest.fixture
def s3_settings(s3_endpoint, tmp_path):  # noqa: F811 - the fixture imported above
    prefix = f"kit-{tmp_path.name[-12:]}/"
    return settings_with(
        s3_bucket=BUCKET,
        s3_endpoint=s3_endpoint,
        s3_access_key_id="k",
        s3_secret_access_key=SecretStr("s"),
        s3_allow_http=True,
        s3_prefix=prefix,
    )


def bucket_keys(settings) -> set[str]:
    import boto3

    conf = settings.submissions
    client = boto3.client(
        "s3",
        endpoint_url=conf.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=conf.s3_prefix).get("Contents", [])
    return {o["Key"][len(conf.s3_prefix) :] for o in listed}


async def test_the_kit_on_an_s3_bucket_upload_to_completed_and_retention(s3_settings, routes_only, as_, db):
    from services.finance import submissions as finance

    c, bank = routes_only("finance", settings=s3_settings), as_("bank", org="B001")
    records = [loan(), loan(), loan(annual_rate="37")]
    body, keyed = xlsx_of(list(records[0]), records), {**bank, "Idempotency-Key": "return-2022-03"}
    r = await upload(c, keyed, "loans", body, XLSX)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    assert bucket_keys(s3_settings) == {f"finance-{sid}.xlsx"}
    again = await upload(c, keyed, "loans", body, XLSX)  # the same file again: the same submission
    assert again.json()["id"] == sid and again.headers["idempotent-replayed"] == "true"
    assert bucket_keys(s3_settings) == {f"finance-{sid}.xlsx"}
    assert not [p for p in get_settings().submissions_dir().glob(".upload-*")]  # nothing left behind

    await finance.process(s3_settings.for_process("worker"), sid)
    done = (await c.get(f"/v1/submissions/{sid}", headers=bank)).json()
    assert done["status"] == "completed_with_errors" and done["counts"]["created"] == 2, done
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'B001'") == 2
    assert not [p for p in get_settings().submissions_dir().glob(".download-*")]  # its copy removed

    await ended_days_ago(db, "finance", sid, s3_settings.submissions.retention_days + 1)
    conn = await worker_conn()
    try:
        assert await submission_files(conn, s3_settings, None) == 1
    finally:
        await conn.close()
    assert bucket_keys(s3_settings) == set()
    assert (await c.get(f"/v1/submissions/{sid}", headers=bank)).json()["file_removed_at"] is not None
