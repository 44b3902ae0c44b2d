"""The ledgers grow by month: each is range-partitioned on the date that starts its records, with
month partitions made ahead by a periodic job and a DEFAULT partition for any other date; every
unique key carries the borrower's credit code; the batch upsert keeps its statuses and its change
log, and a re-post that changes a record's borrower or date moves its row, never doubles it."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.auth import Principal
from services.common.today import today_shanghai
from services.finance.ledgers import LEDGERS, LOANS
from services.finance.loans.repository import recompute_inclusive
from services.finance.partitions import create_ahead, months_after
from services.finance.stats import db as stats_db
from tests.finance.helpers import loan
from tests.finance.test_stats_summaries import _islands_and_deltas, _recomputed
from tests.jobs.helpers import wait_for
from tests.registry_data import add_enterprise, new_credit_code
from tests.support import start_worker


async def post(c, headers, records):
    r = await c.post("/v1/loans/batch", json={"records": records}, headers=headers)
    assert r.status_code == 200, r.text
    return [x["status"] for x in r.json()["results"]]


async def partition_of(db, ref: str) -> list[str]:
    rows = await db.fetch("SELECT tableoid::regclass::text AS p FROM finance.loans WHERE loan_ref = $1", ref)
    return [r["p"] for r in rows]


def month_partition(table: str, month) -> str:
    return f"finance.{table}_p{month:%Y%m}"


async def test_each_ledger_is_partitioned_by_the_month_of_its_date_with_a_default(db):
    rows = await db.fetch(
        "SELECT c.relname, p.partstrat::text, a.attname FROM pg_partitioned_table p "
        "JOIN pg_class c ON c.oid = p.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        "WHERE n.nspname = 'finance'"
    )
    assert {(r["relname"], r["partstrat"], r["attname"]) for r in rows} == {
        (x.table, "r", x.dated_col) for x in LEDGERS
    }
    for x in LEDGERS:
        default = await db.fetchval(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = to_regclass($1)",
            f"finance.{x.default}",
        )
        assert default == "DEFAULT"
        this_month = today_shanghai().replace(day=1)
        bound = await db.fetchval(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = to_regclass($1)",
            month_partition(x.table, this_month),
        )
        assert bound == f"FOR VALUES FROM ('{this_month}') TO ('{months_after(this_month, 1)}')"


async def test_every_unique_key_of_a_ledger_carries_the_credit_code_and_the_partition_date(db):
    for x in LEDGERS:
        keys = await db.fetch(
            "SELECT i.relname, array_agg(a.attname::text) AS cols FROM pg_index ix "
            "JOIN pg_class i ON i.oid = ix.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ANY(ix.indkey) "
            "WHERE ix.indrelid = to_regclass($1) AND ix.indisunique GROUP BY i.relname",
            f"finance.{x.table}",
        )
        assert {r["relname"] for r in keys} == {f"pk_{x.table}", f"uq_{x.table}_natural_key"}
        for r in keys:
            assert {"borrower_credit_code", x.dated_col} <= set(r["cols"]), r
        natural = next(r for r in keys if r["relname"].endswith("natural_key"))
        assert {x.owner_col, x.ref_col} <= set(natural["cols"])


async def test_a_loan_lands_in_its_month_and_an_unexpected_date_in_the_default_until_the_job_splits_it(
    client_for, as_, db
):
    c, bank = client_for("finance"), as_("bank", org="B001")
    today = today_shanghai()
    now = loan(issued_on=today.isoformat(), matures_on=months_after(today, 13).isoformat())
    old = loan(issued_on="1999-01-15", matures_on="2000-01-15")
    assert await post(c, bank, [now, old]) == ["created", "created"]
    assert await partition_of(db, now["loan_ref"]) == [month_partition("loans", today.replace(day=1))]
    assert await partition_of(db, old["loan_ref"]) == ["finance.loans_default"]
    # a date past every partition made ahead (written straight to the table: no batch takes it)
    await db.execute(
        "INSERT INTO finance.loans SELECT (jsonb_populate_record(l, jsonb_build_object("
        "'loan_ref', 'FAR', 'issued_on', '2999-01-01', 'matures_on', '2999-06-01', "
        "'id', nextval(pg_get_serial_sequence('finance.loans', 'id'))))).* "
        "FROM finance.loans l WHERE loan_ref = $1",
        now["loan_ref"],
    )
    assert await partition_of(db, "FAR") == ["finance.loans_default"]
    changes = await db.fetchval("SELECT count(*) FROM finance.changes")
    summaries = await _islands_and_deltas(db)

    # the job makes the months ahead and takes the month of 1999 out of the DEFAULT partition
    assert await create_ahead(db, today, 3) >= 1
    assert await partition_of(db, old["loan_ref"]) == ["finance.loans_p199901"]
    assert await partition_of(db, "FAR") == ["finance.loans_default"]  # beyond the horizon: stays
    # moving rows between partitions changes no record: no change logged, the summaries as they were
    assert await db.fetchval("SELECT count(*) FROM finance.changes") == changes
    assert await _islands_and_deltas(db) == summaries == await _recomputed(db)
    # idempotent: a second run creates nothing
    assert await create_ahead(db, today, 3) == 0


async def test_a_repost_keeps_its_statuses_and_a_changed_date_or_borrower_moves_the_row(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    a, b = await add_enterprise(db, sizes={2022: "small"}), await add_enterprise(db, sizes={2022: "small"})
    record = loan(borrower=a, issued_on="2022-03-01")
    assert await post(c, bank, [record]) == ["created"]
    assert await post(c, bank, [record]) == ["unchanged"]
    record["outstanding_balance"] = "400000.00"
    assert await post(c, bank, [record]) == ["updated"]
    await create_ahead(db, today_shanghai(), 3)  # the months of 2022 get their partitions
    assert await partition_of(db, record["loan_ref"]) == ["finance.loans_p202203"]

    # corrected issue date, then borrower: the same record (one row, its id), updated and logged
    loan_id = await db.fetchval("SELECT id FROM finance.loans WHERE loan_ref = $1", record["loan_ref"])
    record["issued_on"] = "2022-05-20"
    assert await post(c, bank, [record]) == ["updated"]
    await create_ahead(db, today_shanghai(), 3)
    assert await partition_of(db, record["loan_ref"]) == ["finance.loans_p202205"]
    record["borrower_credit_code"] = b
    assert await post(c, bank, [record]) == ["updated"]
    assert await post(c, bank, [record]) == ["unchanged"]
    row = await db.fetchrow(
        "SELECT id, borrower_credit_code FROM finance.loans WHERE loan_ref = $1", record["loan_ref"]
    )
    assert (row["id"], row["borrower_credit_code"]) == (loan_id, b)
    assert await db.fetchrow(
        "SELECT borrower_credit_code, issued_on::text FROM finance.loans_keys WHERE lender = 'B001' AND loan_ref = $1",
        record["loan_ref"],
    ) == (b, "2022-05-20")
    log = await db.fetch(
        "SELECT action, before->>'issued_on' AS was, after->>'issued_on' AS now, "
        "before->>'borrower_credit_code' AS was_code, after->>'borrower_credit_code' AS now_code "
        "FROM finance.changes WHERE entity_key = $1 ORDER BY seq",
        f"B001/{record['loan_ref']}",
    )
    assert [r["action"] for r in log if r["action"] != "reclassified"] == [
        "created",
        "updated",
        "updated",
        "updated",
    ]
    moves = [r for r in log if r["action"] == "updated"][1:]
    assert (moves[0]["was"], moves[0]["now"]) == ("2022-03-01", "2022-05-20")
    assert (moves[1]["was_code"], moves[1]["now_code"]) == (a, b)
    # the statistics follow the move: the summaries equal a recomputation from the loans
    assert await _islands_and_deltas(db) == await _recomputed(db)


async def test_a_second_row_of_a_lenders_ref_is_refused_in_any_partition(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    record = loan(issued_on="2022-03-01")
    assert await post(c, bank, [record]) == ["created"]
    with pytest.raises(asyncpg.UniqueViolationError, match=LOANS.keys):
        await db.execute(
            "INSERT INTO finance.loans SELECT (jsonb_populate_record(l, jsonb_build_object("
            "'issued_on', '2021-07-01', 'id', nextval(pg_get_serial_sequence('finance.loans', 'id'))))).* "
            "FROM finance.loans l WHERE loan_ref = $1",
            record["loan_ref"],
        )
    assert (
        await db.fetchval("SELECT count(*) FROM finance.loans WHERE loan_ref = $1", record["loan_ref"]) == 1
    )


async def test_the_worker_makes_the_months_ahead_as_a_periodic_job(db):
    ahead = 9
    last = months_after(today_shanghai(), ahead)
    worker = start_worker(
        {
            "EAGLET_JOBS__LEDGER_PARTITIONS_CRON": "* * * * * *",
            "EAGLET_JOBS__LEDGER_MONTHS_AHEAD": str(ahead),
        },
        name="ledger",
    )
    try:

        async def made():
            names = [month_partition(x.table, last) for x in LEDGERS]
            return all([await db.fetchval("SELECT to_regclass($1) IS NOT NULL", n) for n in names])

        await wait_for(made, "the partitions nine months ahead", 90)
    finally:
        assert worker.stop() == 0, worker.log()
    ran = await db.fetchval(
        "SELECT count(*) FROM jobs.procrastinate_jobs WHERE task_name = 'finance.ledger:partitions' "
        "AND status = 'succeeded'"
    )
    assert ran >= 1


async def key_table_reads(db) -> int:
    """Scans of the loans' key table this transaction has made and rows they read (its own
    counts, not yet flushed)."""
    return await db.fetchval(
        "SELECT seq_scan + seq_tup_read + COALESCE(idx_scan, 0) + COALESCE(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables "
        "WHERE schemaname = 'finance' AND relname = $1",
        LOANS.keys,
    )


async def test_an_update_of_many_loans_changing_no_key_reads_nothing_of_the_key_table(client_for, as_, db):
    """The bench's HTTP 500s: one bank's batches each reclassify thousands of its earlier loans
    (an UPDATE of their totals, no key changed), and the key trigger's statement, planned once
    per session for its first call's transition tables (an upsert that only created: none), joined
    the whole key table to the updated rows, old to new row by row (15 s for a batch over 15,000
    loans, so the bank's next batch waiting its turn passed the statement timeout). Planned for
    each call, and finding the moved rows first, an update that moves none reads nothing of it."""
    c, bank = client_for("finance"), as_("bank", org="B001")
    borrowers = [new_credit_code("330106") for _ in range(50)]
    records = [loan(borrower=borrowers[i % 50], issued_on=f"2022-{1 + i % 12:02d}-10") for i in range(600)]
    for i in range(0, 600, 200):
        assert set(await post(c, bank, records[i : i + 200])) == {"created"}
    async with db.transaction():
        # the session's first call: no row (as a batch's upsert that only creates calls it)
        assert (
            await db.execute("UPDATE finance.loans SET loans_total = loans_total WHERE false") == "UPDATE 0"
        )
        before = await key_table_reads(db)
        assert (
            await db.execute("UPDATE finance.loans SET loans_total = loans_total WHERE lender = 'B001'")
            == "UPDATE 600"
        )
        assert await key_table_reads(db) == before
        # a key that does change is still followed (the same call's plan, one moved row)
        await db.execute(
            "UPDATE finance.loans SET issued_on = '2022-12-31' WHERE lender = 'B001' AND loan_ref = $1",
            records[1]["loan_ref"],
        )
        assert (
            await db.fetchval(
                "SELECT issued_on::text FROM finance.loans_keys WHERE lender = 'B001' AND loan_ref = $1",
                records[1]["loan_ref"],
            )
            == "2022-12-31"
        )
        assert await db.fetchval("SELECT count(*) FROM finance.loans_keys WHERE lender = 'B001'") == 600


async def test_the_summary_triggers_on_the_partitioned_loans_are_the_lender_keyed_ones(db):
    """The migration re-attaches the loan summaries' statement triggers to the partitioned parent:
    the declared ones (services/finance/stats/db.py), whose apply locks one row per borrower
    (migration 0029), never a lock shared by every writer."""
    triggers = await db.fetch(
        "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid = 'finance.loans'::regclass AND NOT t.tgisinternal"
    )
    assert {(r["tgname"], r["proname"]) for r in triggers} == {
        *((t.signature, t.signature) for t in stats_db.LOAN_TRIGGERS),
        *((f"loans_keys_{e}", f"loans_keys_{e}") for e in ("insert", "update", "delete", "truncate")),
    }
    apply = await db.fetchval(
        "SELECT prosrc FROM pg_proc WHERE oid = 'finance.loans_summary_apply()'::regprocedure"
    )
    assert "finance.loan_summary_borrowers" in apply
    assert "pg_advisory_xact_lock" not in apply


async def test_a_reclassification_is_planned_per_call_and_leaves_the_sessions_plan_setting(
    client_for, as_, db
):
    """The reclassification runs with plan_cache_mode force_custom_plan (a prepared statement's
    generic plan, taken after five runs on a connection, could not prune the partitions and ran
    past the statement timeout on a large bank), then restores the session's setting; each call,
    the sixth as the first, puts a loan's corrupted total right."""
    c, bank = client_for("finance"), as_("bank", org="B001")
    borrower = new_credit_code("330106")
    records = [loan(borrower=borrower, issued_on=f"2022-0{1 + i}-10") for i in range(3)]
    assert await post(c, bank, records) == ["created"] * 3
    actor = Principal(sub="test", kind="bank", org="B001")
    async with db.transaction():
        await db.execute("SET LOCAL plan_cache_mode = auto")
        for _ in range(7):
            await db.execute(
                "UPDATE finance.loans SET loans_total = 1 WHERE loan_ref = $1", records[2]["loan_ref"]
            )
            assert await recompute_inclusive(db, "B001", [borrower], actor) == 1
            assert await db.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"
        assert (
            await db.fetchval(
                "SELECT loans_total::text FROM finance.loans WHERE loan_ref = $1", records[2]["loan_ref"]
            )
            == "3000000.00"
        )


async def test_whoever_writes_a_ledger_writes_its_key_table_and_the_worker_makes_partitions(db):
    """A file submission's records are written by the worker through their batch (the kit,
    services/finance/submissions.py): every ledger's key table is the worker's to write as the
    ledger is, and the partition function its to run."""
    for x in LEDGERS:
        for privilege in ("INSERT", "UPDATE"):
            assert await db.fetchval(
                "SELECT has_table_privilege('eaglet_worker', $1, $2)", f"finance.{x.table}", privilege
            )
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert await db.fetchval(
                "SELECT has_table_privilege('eaglet_worker', $1, $2)", f"finance.{x.keys}", privilege
            )
    assert await db.fetchval(
        "SELECT has_function_privilege('eaglet_worker', 'finance.ledger_partitions(date, date)', 'EXECUTE')"
    )
