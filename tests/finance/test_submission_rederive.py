"""A loans file re-derives the stored loans beside it once, at its end (services/finance/loans/
service.py `rederive_submission`): its chunks record the borrowers they touched with the earliest
date of each (`finance.submission_borrowers`, committed with the chunk), and after the last chunk
the loans of those borrowers issued on or after that date — the file's own among them — are
re-derived a step of borrowers at a time. The loans then hold what one JSON batch of the same
lines would have given them, each moved loan logged `reclassified` once; a run stopped between
steps resumes with the borrowers left; a dry run records nothing."""

from __future__ import annotations

import pytest

from services.common.auth import Principal
from services.finance import submissions as finance
from services.finance.loans import repository
from services.finance.loans import service as loans
from services.finance.loans.repository import recompute_inclusive
from tests.common.test_submissions_kit import csv_of, submit, worker_settings
from tests.finance.test_loans_reclassify import changes, open_loan, post
from tests.registry_data import add_enterprise

FIELDS = finance.SUBMISSIONS.kind("loans").fields
ACTOR = Principal(sub="test", kind="bank", org="B1")


class Stop(Exception):
    pass


async def two_chunk_file(c, bank, db, lines: list[dict], **params) -> int:
    sid = (await submit(c, bank, "loans", csv_of(FIELDS, lines), **params)).json()["id"]
    await db.execute("UPDATE finance.submissions SET chunk_rows = 2 WHERE id = $1", sid)
    return sid


async def totals(db) -> dict[str, str]:
    rows = await db.fetch("SELECT loan_ref, loans_total::text FROM finance.loans WHERE lender = 'B1'")
    return {r[0]: r[1] for r in rows}


async def test_a_file_re_derives_its_borrowers_once_at_its_end_as_one_batch_of_its_lines_would(
    client_for, as_, db
):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [open_loan(s, "Y", "2022-04-01", "1000000.00")])
    # chunk 1: A (03-01) and B (05-01); chunk 2: N (02-01, 3M) and M (01-15), all open, 1M but N.
    # A customer's total at a loan's issue date counts its loans issued on or before it:
    # M = 1M; N = N + M = 4M; A = A + N + M = 5M; Y = Y + A + N + M = 6M; B = all five = 7M
    lines = [
        open_loan(s, "A", "2022-03-01", "1000000.00"),
        open_loan(s, "B", "2022-05-01", "1000000.00"),
        open_loan(s, "N", "2022-02-01", "3000000.00"),
        open_loan(s, "M", "2022-01-15", "1000000.00"),
    ]
    sid = await two_chunk_file(c, bank, db, lines)
    stopped_after: list[dict] = []

    async def look(index: int) -> None:  # what the chunks leave for the end
        stopped_after.append(await totals(db))

    await finance.process(worker_settings(), sid, after_chunk=look)
    # after chunk 1 A and B were derived against the stored Y only, and Y was left as it was
    assert stopped_after[0] == {"Y": "1000000.00", "A": "1000000.00", "B": "3000000.00"}
    assert stopped_after[1]["Y"] == "1000000.00" and stopped_after[1]["N"] == "4000000.00"
    done = (await c.get(f"/v1/submissions/{sid}", headers=bank)).json()
    assert done["status"] == "completed" and done["counts"]["created"] == 4, done
    assert await totals(db) == {
        "M": "1000000.00",
        "N": "4000000.00",
        "A": "5000000.00",
        "Y": "6000000.00",
        "B": "7000000.00",
    }
    reclassified = [(k, b["loans_total"], a["loans_total"]) for k, b, a in await changes(db, "reclassified")]
    assert sorted(reclassified) == [
        ("B1/A", "1000000.00", "5000000.00"),
        ("B1/B", "3000000.00", "7000000.00"),
        ("B1/Y", "1000000.00", "6000000.00"),  # once: after each chunk it would have moved twice
    ]
    assert await db.fetchval("SELECT count(*) FROM finance.submission_borrowers") == 0
    assert await recompute_inclusive(db, "B1", [s], ACTOR) == 0  # nothing left to move


async def test_a_run_stopped_at_its_end_resumes_with_the_borrowers_left(client_for, as_, db, monkeypatch):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s1, s2 = [await add_enterprise(db, sizes={2022: "small"}) for _ in range(2)]
    await post(c, "/v1/loans/batch", bank, [
        open_loan(s1, "Y1", "2022-04-01", "1000000.00"),
        open_loan(s2, "Y2", "2022-04-01", "1000000.00"),
    ])  # fmt: skip
    lines = [
        open_loan(s, f"{ref}{i}", "2022-03-01", "2000000.00") for i, s in ((1, s1), (2, s2)) for ref in "AB"
    ]
    sid = await two_chunk_file(c, bank, db, lines)
    monkeypatch.setattr(loans, "REDERIVE_BORROWERS", 1)  # a step a borrower
    original, steps = repository.recompute_inclusive_in, []

    async def stops_at_the_second(*args, **kw):
        steps.append(args[2])
        if len(steps) == 2:
            raise Stop
        return await original(*args, **kw)

    monkeypatch.setattr(repository, "recompute_inclusive_in", stops_at_the_second)
    with pytest.raises(Stop):
        await finance.process(worker_settings(), sid)
    first = min(s1, s2)  # borrowers go in credit-code order
    assert steps == [[first], [max(s1, s2)]]
    left = await db.fetch(
        "SELECT borrower_credit_code FROM finance.submission_borrowers WHERE submission_id = $1", sid
    )
    assert [r[0] for r in left] == [max(s1, s2)]  # the first step committed, the second not
    assert await db.fetchval("SELECT status FROM finance.submissions WHERE id = $1", sid) == "validating"
    first_y = "Y1" if first == s1 else "Y2"
    assert [k for k, _, _ in await changes(db, "reclassified")] == [f"B1/{first_y}"]

    monkeypatch.setattr(repository, "recompute_inclusive_in", original)
    await db.execute(
        "UPDATE finance.submissions SET status = 'expired', finished_at = now() WHERE id = $1", sid
    )
    assert (await c.post(f"/v1/submissions/{sid}/retry", headers=bank)).status_code == 202
    await finance.process(worker_settings(), sid)
    assert (await c.get(f"/v1/submissions/{sid}", headers=bank)).json()["status"] == "completed"
    # Y = 1 + A 2 + B 2 = 5M for each borrower, each logged once over both runs
    assert sorted(k for k, _, _ in await changes(db, "reclassified")) == ["B1/Y1", "B1/Y2"]
    assert (await totals(db))["Y1"] == (await totals(db))["Y2"] == "5000000.00"
    assert await recompute_inclusive(db, "B1", [s1, s2], ACTOR) == 0


async def test_a_dry_run_leaves_nothing_for_the_end(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [open_loan(s, "Y", "2022-04-01", "1000000.00")])
    lines = [open_loan(s, ref, "2022-03-01", "1000000.00") for ref in "ABC"]
    sid = await two_chunk_file(c, bank, db, lines, mode="validate_only")
    await finance.process(worker_settings(), sid)
    done = (await c.get(f"/v1/submissions/{sid}", headers=bank)).json()
    assert done["status"] == "completed" and done["counts"]["created"] == 3, done
    assert await totals(db) == {"Y": "1000000.00"}
    assert await changes(db, "reclassified") == []
    assert await db.fetchval("SELECT count(*) FROM finance.submission_borrowers") == 0
