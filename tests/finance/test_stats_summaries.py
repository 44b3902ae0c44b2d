"""The summaries the statistics read agree exactly with the figures computed from the ledgers:
the month summaries for month-aligned periods, the borrower years (申贷获得率, 首贷户) for calendar
years, after inserts, updates (re-posts, direct changes), deletes and reclassifications."""

import asyncio
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from services.common.db import plain_url
from services.finance.seed import generate
from services.finance.stats import db as stats_db
from services.finance.stats import service as stats_service
from tests.finance.helpers import application, loan
from tests.finance.test_bulk_concurrency import wait_until_waiting
from tests.finance.test_stats import dataset  # noqa: F401  (fixture)
from tests.registry_data import new_credit_code

QUERIES = [
    ({"year": 2022}, "admin", {}),
    ({"year": 2022, "group_by": "city"}, "admin", {}),
    ({"year": 2021, "group_by": "county"}, "official", {"region": "330000"}),
    ({"year": 2022, "group_by": "lender"}, "official", {"region": "330100"}),
    ({"year": 2022, "group_by": "city"}, "official", {"region": "330106"}),
    ({"from": "2021-04-01", "to": "2022-09-30", "base": "start_of_period", "group_by": "city"}, "admin", {}),
    ({"from": "2022-01-01", "to": "2022-06-30", "group_by": "month"}, "admin", {}),
    ({"year": 2022, "group_by": "lender"}, "bank", {"org": "GEN3"}),
    ({"year": 2020}, "bank", {"org": "B1"}),
    ({"year": 2022, "region": "330203"}, "admin", {}),
]


async def both(c, headers, params, monkeypatch):
    monkeypatch.setattr(stats_service, "USE_SUMMARIES", True)
    fast = await c.get("/v1/stats", params=params, headers=headers)
    monkeypatch.setattr(stats_service, "USE_SUMMARIES", False)
    slow = await c.get("/v1/stats", params=params, headers=headers)
    monkeypatch.setattr(stats_service, "USE_SUMMARIES", True)
    assert fast.status_code == slow.status_code == 200, fast.text
    return fast.json(), slow.json()


@pytest.mark.usefixtures("dataset")
async def test_summaries_match_the_loans(client_for, as_, db, monkeypatch):
    c = client_for("finance")
    await generate(db, 1500)
    # updates: close some loans (other months), change products and balances, un-flag some
    await db.execute(
        "UPDATE finance.loans SET status = 'repaid', outstanding_balance = 0,"
        " closed_on = issued_on + 200 WHERE lender = 'GEN1' AND closed_on IS NULL"
    )
    await db.execute(
        "UPDATE finance.loans SET product = 'other', inclusive = NOT inclusive WHERE lender = 'GEN2'"
    )
    await db.execute(
        "UPDATE finance.loans SET outstanding_balance = 0 WHERE lender = 'GEN4' AND closed_on IS NULL"
    )
    await db.execute("DELETE FROM finance.loans WHERE lender = 'GEN5' AND loan_ref LIKE '%3'")
    # re-post through the API with changes (update path of the batch upsert)
    r = await c.post(
        "/v1/loans/batch",
        json={"records": [loan(loan_ref="R1", issued_on="2022-03-15", amount="700000.00",
                               outstanding_balance="700000.00")]},
        headers=as_("bank", org="B1"),
    )  # fmt: skip
    assert r.status_code == 200
    r = await c.post(
        "/v1/loans/batch",
        json={"records": [loan(loan_ref="R1", issued_on="2022-03-15", amount="700000.00", status="repaid",
                               closed_on="2022-08-01", outstanding_balance="0.00")]},
        headers=as_("bank", org="B1"),
    )  # fmt: skip
    assert r.json()["summary"]["updated"] == 1
    for params, kind, extra in QUERIES:
        fast, slow = await both(c, as_(kind, **extra), params, monkeypatch)
        assert fast == slow, params


async def test_periods_not_on_month_boundaries_use_the_loans(client_for, as_, db, monkeypatch):
    await generate(db, 300)
    c = client_for("finance")
    params = {"from": "2022-01-15", "to": "2022-07-20", "group_by": "city"}
    fast, slow = await both(c, as_("admin"), params, monkeypatch)
    assert fast == slow and fast["totals"]["new_loans"]["all"]["count"] > 0


async def _islands_and_deltas(db) -> tuple[list, list]:
    islands = await db.fetch(
        "SELECT borrower_credit_code, scope_region, scope_lender, first_month, end_month"
        " FROM finance.loan_inclusive_islands ORDER BY 1, 2, 3, 4, 5"
    )
    # the rows of one cell and month are kept by several lenders' writers: the figure is their sum
    months = await db.fetch(
        "SELECT scope_region, scope_lender, month, sum(delta) FROM finance.loan_inclusive_borrower_months"
        " GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3"
    )
    return [tuple(r) for r in islands], [tuple(r) for r in months]


async def _recomputed(db) -> tuple[list, list]:
    """The borrower summaries rebuilt from the loans (a flag flipped twice in one transaction
    makes every inclusive borrower a recomputation), then rolled back."""
    tr = db.transaction()
    await tr.start()
    try:
        await db.execute("UPDATE finance.loans SET inclusive = NOT inclusive")
        await db.execute("UPDATE finance.loans SET inclusive = NOT inclusive")
        await db.execute("SET CONSTRAINTS ALL IMMEDIATE")  # apply the deferred summaries now
        return await _islands_and_deltas(db)
    finally:
        await tr.rollback()


async def test_incremental_merges_equal_a_recomputation_under_concurrent_batches(client_for, as_, db):
    """Batches only adding loans merge their month ranges into the stored ones (no re-read of the
    loans); concurrent batches of several banks over shared borrowers never double count."""
    import random

    c = client_for("finance")
    rng = random.Random(7)
    borrowers = [new_credit_code(rng.choice(["330106", "330203", "330302"])) for _ in range(40)]

    def batch(n: int) -> list[dict]:
        out = []
        for _ in range(n):
            issued = f"202{rng.randrange(0, 3)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}"
            closed = rng.random() < 0.4
            closed_on = f"2023-{rng.randrange(1, 13):02d}-01" if closed else None
            amount = rng.choice(["500000.00", "3000000.00", "12000000.00"])
            out.append(
                loan(borrower=rng.choice(borrowers), issued_on=issued, matures_on="2024-12-31",
                     amount=amount, outstanding_balance="0.00" if closed else amount,
                     status="repaid" if closed else "outstanding", closed_on=closed_on,
                     borrower_size=rng.choice(["small", "micro", "medium"]))
            )  # fmt: skip
        return out

    async def post(org: str, records: list[dict]) -> None:
        r = await c.post("/v1/loans/batch", json={"records": records}, headers=as_("bank", org=org))
        assert r.status_code == 200 and r.json()["summary"]["rejected"] == 0, r.text

    for _ in range(2):
        await asyncio.gather(*(post(org, batch(60)) for org in ("B1", "B2", "B3", "B1")))
    assert await _islands_and_deltas(db) == await _recomputed(db)
    # re-posting with changes (balances to zero, closures) removes ranges: recomputed borrowers
    rows = await db.fetch("SELECT loan_ref, lender FROM finance.loans WHERE lender = 'B2' LIMIT 30")
    changed = [
        loan(loan_ref=r["loan_ref"], borrower=borrowers[i % 40], outstanding_balance="0.00")
        for i, r in enumerate(rows)
    ]
    await asyncio.gather(post("B2", changed), post("B3", batch(50)))
    assert await _islands_and_deltas(db) == await _recomputed(db)


# --- concurrent writers: summaries keyed by lender and borrower, no lock shared by every bank ---

_INSERT = """
    INSERT INTO finance.loans (lender, loan_ref, borrower_credit_code, borrower_region, borrower_name,
        borrower_size, product, amount, annual_rate, issued_on, matures_on, renewal_type, is_first_loan,
        outstanding_balance, status, closed_on, matched, size_class, size_source, inclusive,
        inclusive_reason, rule_set_version)
    SELECT $1, $1 || '-' || $3 || '-' || b || '-' || m, b, '330106', '企业', 'small', 'credit', 1000000,
           4.35, make_date(2022, m, 15), '2024-12-31', 'new', m = 2,
           CASE WHEN m % 3 = 0 THEN 0 ELSE 1000000 END,
           CASE WHEN m % 3 = 0 THEN 'repaid' ELSE 'outstanding' END,
           CASE WHEN m % 3 = 0 THEN make_date(2023, m, 1) END,
           false, 'small', 'bank', true, 'no_line_loans_total_within_cap', 'test'
    FROM unnest($2::text[]) AS b, generate_series(1, 6) AS m"""


_INSERT_APPLICATIONS = """
    INSERT INTO finance.loan_applications (lender, application_ref, borrower_credit_code, borrower_region,
        applied_on, amount_requested, decision, decided_on, borrower_size, size_class, size_source,
        rule_set_version)
    SELECT $1, $1 || '-' || $3 || '-' || b || '-' || m, b, '330106', make_date(2022, m, 10), 100000,
           CASE WHEN m = 2 THEN 'approved' ELSE 'rejected' END, make_date(2022, m, 20), 'small',
           CASE WHEN m = 3 THEN 'medium' ELSE 'small' END, 'bank', 'test'
    FROM unnest($2::text[]) AS b, generate_series(1, 3) AS m"""


async def _write(conn, lender: str, borrowers: list[str], tag: str) -> None:
    """Six loans per borrower at `lender` (one a first loan) and three applications (the same
    region, product and months for every lender, so that all of them count in the same
    all-lender cells and borrower years), in the caller's transaction."""
    await conn.execute(_INSERT, lender, borrowers, tag)
    await conn.execute(_INSERT_APPLICATIONS, lender, borrowers, tag)


async def _summaries_are_exact(c, as_, db, monkeypatch) -> None:
    assert await _islands_and_deltas(db) == await _recomputed(db)
    assert await _stored(db) == await _rebuilt(db)
    for params, kind, extra in QUERIES[:5]:
        fast, slow = await both(c, as_(kind, **extra), params, monkeypatch)
        assert fast == slow, params
    # a by-lender cell's rows are its lender's own
    assert not await db.fetchval(
        "SELECT count(*) FROM finance.loan_inclusive_borrower_months WHERE scope_lender <> '' AND lender <> scope_lender"
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM finance.loan_borrower_year_counts WHERE scope_lender <> '' AND lender <> scope_lender"
    )


async def test_two_lenders_writing_at_once_do_not_wait_on_each_other(
    client_for, as_, db, holder, monkeypatch
):
    """Lender A has written loans and applied their summaries in a transaction it keeps open (its
    summary rows and borrowers locked). Lender B's loans — other borrowers, but the same region,
    product and months, so the same all-lender cells — are written, summarised and committed
    meanwhile under a lock timeout: B waits on no lock of A's. Once A commits too, the summaries
    equal a recomputation from the loans."""
    a_borrowers = [new_credit_code("330106") for _ in range(20)]
    b_borrowers = [new_credit_code("330106") for _ in range(20)]
    tx = holder.transaction()
    await tx.start()
    try:
        await _write(holder, "BANK-A", a_borrowers, "1")
        await holder.execute("SET CONSTRAINTS ALL IMMEDIATE")  # A's summaries applied, A still open
        async with db.transaction():
            await db.execute("SET LOCAL lock_timeout = '5s'")  # a wait on A would fail here, not hang
            await _write(db, "BANK-B", b_borrowers, "1")
    finally:
        await tx.commit()
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = 'BANK-B'") == 120
    await _summaries_are_exact(client_for("finance"), as_, db, monkeypatch)


async def test_writers_of_one_borrower_take_turns_and_count_it_once(
    client_for, as_, db, holder, database_url, monkeypatch
):
    """The same lender's second transaction, and another lender's, writing loans of borrowers the
    open transaction of the first has summarised: both wait for it (the borrowers' islands are
    replaced by one writer at a time), then go through, and the borrowers are counted once."""
    shared = [new_credit_code("330106") for _ in range(15)]

    async def later(lender: str, borrowers: list[str]) -> None:
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            async with conn.transaction():
                await _write(conn, lender, borrowers, "2")
        finally:
            await conn.close()

    tx = holder.transaction()
    await tx.start()
    try:
        await _write(holder, "BANK-A", shared, "1")
        await holder.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tasks = [
            asyncio.create_task(later("BANK-A", shared[:10])),
            asyncio.create_task(later("BANK-B", shared[5:] + [new_credit_code("330106")])),
        ]
        await wait_until_waiting(db, holder, 2)
    finally:
        await tx.commit()
    await asyncio.gather(*tasks)
    await _summaries_are_exact(client_for("finance"), as_, db, monkeypatch)


# --- borrower years (申贷获得率, 首贷户) and the small/micro balance deltas ---------------------


async def _stored(db) -> tuple[list, list, list]:
    """The borrower years, their counts (summed over the writers' rows) and the month totals."""
    years = await db.fetch("SELECT * FROM finance.loan_borrower_years ORDER BY 1, 2, 3, 4")
    counts = await db.fetch(
        "SELECT year, scope_region, scope_lender, sum(applied), sum(obtained), sum(other_applied),"
        " sum(first_time) FROM finance.loan_borrower_year_counts GROUP BY 1, 2, 3"
        " HAVING (sum(applied), sum(obtained), sum(other_applied), sum(first_time)) <> (0, 0, 0, 0)"
        " ORDER BY 1, 2, 3"
    )
    totals = await db.fetch(
        "SELECT lender, borrower_region, product, month, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w,"
        " bal_delta, inc_delta, sm_delta FROM finance.loan_month_totals"
        " WHERE (n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w, bal_delta, inc_delta, sm_delta)"
        " <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0) ORDER BY 1, 2, 3, 4"
    )
    return [tuple(r) for r in years], [tuple(r) for r in counts], [tuple(r) for r in totals]


async def _rebuilt(db) -> tuple[list, list, list]:
    """The same rebuilt from the ledgers by `stats_db.REBUILD` (the migration's and the
    benchmark's rebuild), then rolled back."""
    tr = db.transaction()
    await tr.start()
    try:
        for statement in stats_db.REBUILD:
            await db.execute(statement)
        return await _stored(db)
    finally:
        await tr.rollback()


_APPLICATIONS_OF_LOANS = """
    INSERT INTO finance.loan_applications (lender, application_ref, borrower_credit_code, borrower_region,
        applied_on, amount_requested, decision, decided_on, borrower_size, size_class, size_source,
        rule_set_version)
    SELECT l.lender, 'TA' || l.id, l.borrower_credit_code, l.borrower_region, l.issued_on - 20, l.amount,
           (ARRAY['approved', 'rejected', 'pending'])[1 + l.id % 3],
           CASE WHEN l.id % 3 <> 2 THEN l.issued_on - 5 END, l.borrower_size,
           CASE WHEN l.id % 7 = 0 THEN NULL ELSE l.size_class END, 'bank', 'test'
    FROM finance.loans l WHERE l.id % 2 = 0"""

YEAR_QUERIES = [
    ({"year": 2020}, "admin", {}),
    ({"year": 2021, "group_by": "city"}, "official", {"region": "330000"}),
    ({"year": 2022, "group_by": "county"}, "official", {"region": "330200"}),
    ({"year": 2022, "group_by": "lender"}, "admin", {}),
    ({"year": 2021, "group_by": "lender"}, "bank", {"org": "GEN2"}),
    ({"year": 2022, "group_by": "city"}, "official", {"region": "330212"}),
    ({"year": 2023}, "admin", {}),
    # a county that succeeded a retired code (330102 ← 330104) spans two county cells: the scans
    ({"year": 2022, "group_by": "county"}, "official", {"region": "330102"}),
    # not one calendar year: the scans
    ({"from": "2021-01-01", "to": "2022-12-31", "group_by": "city"}, "admin", {}),
    ({"from": "2022-01-01", "to": "2022-06-30", "group_by": "county"}, "admin", {}),
]


async def _all_equal(c, as_, db, monkeypatch) -> None:
    assert await _stored(db) == await _rebuilt(db)
    for params, kind, extra in YEAR_QUERIES + QUERIES:
        fast, slow = await both(c, as_(kind, **extra), params, monkeypatch)
        assert fast == slow, params


async def test_borrower_years_and_small_micro_balances_match_the_ledgers_after_any_writes(
    client_for, as_, db, monkeypatch
):
    """申贷获得率's counts, 首贷户 and the 5000亿 target's small/micro balances read from the
    summaries equal the scans (and the summaries a rebuild from the ledgers), after inserts and
    updates that change an application's decision, size, year, borrower and region, a loan's
    first-loan flag, size, issue year, borrower and region, deletes, mixed transactions, re-posts
    and truncations."""
    c = client_for("finance")
    await generate(db, 1200)
    await db.execute(_APPLICATIONS_OF_LOANS)
    some = await db.fetchval("SELECT min(borrower_credit_code) FROM finance.loans")
    fast, _ = await both(c, as_("admin"), {"year": 2022}, monkeypatch)
    assert fast["applications"]["applied_enterprises"] > 0 and fast["totals"]["first_time_borrowers"] > 0
    await _all_equal(c, as_, db, monkeypatch)

    for sql in (
        # applications: decisions, sizes (reclassified, unknown), years, borrowers, regions, deletes
        "UPDATE finance.loan_applications SET decision = 'approved', decided_on = applied_on WHERE id % 5 = 0",
        "UPDATE finance.loan_applications SET decision = 'rejected', decided_on = applied_on WHERE id % 6 = 1",
        "UPDATE finance.loan_applications SET size_class = 'medium' WHERE id % 11 = 0",
        "UPDATE finance.loan_applications SET size_class = 'micro' WHERE size_class IS NULL AND id % 2 = 0",
        "UPDATE finance.loan_applications SET size_class = NULL WHERE id % 29 = 0",
        "UPDATE finance.loan_applications SET applied_on = applied_on + 365, decided_on = NULL,"
        " decision = 'pending' WHERE id % 13 = 0",
        f"UPDATE finance.loan_applications SET borrower_credit_code = '{some}' WHERE id % 17 = 0",
        "UPDATE finance.loan_applications SET borrower_region = '330212' WHERE id % 19 = 0",
        "DELETE FROM finance.loan_applications WHERE id % 23 = 0",
        # loans: first-loan flags, issue years, sizes, regions (a borrower in two counties), borrowers
        "UPDATE finance.loans SET is_first_loan = NOT is_first_loan WHERE id % 9 = 0",
        "UPDATE finance.loans SET issued_on = issued_on - 300 WHERE is_first_loan AND id % 4 = 0",
        "UPDATE finance.loans SET size_class = CASE WHEN size_class IN ('small', 'micro') THEN 'medium'"
        " ELSE 'small' END WHERE id % 10 = 3",
        "UPDATE finance.loans SET borrower_region = '330212' WHERE id % 21 = 0",
        f"UPDATE finance.loans SET borrower_credit_code = '{some}' WHERE is_first_loan AND id % 15 = 0",
        "DELETE FROM finance.loans WHERE id % 27 = 0",
    ):
        await db.execute(sql)
    await _all_equal(c, as_, db, monkeypatch)

    # one transaction writing both ledgers of the same borrowers, statement after statement
    async with db.transaction():
        await db.execute("UPDATE finance.loan_applications SET decision = 'rejected' WHERE id % 4 = 0")
        await db.execute("UPDATE finance.loans SET is_first_loan = true WHERE id % 8 = 1")
        await db.execute("DELETE FROM finance.loan_applications WHERE id % 8 = 0")
        await db.execute(_APPLICATIONS_OF_LOANS.replace("'TA' ||", "'TB' ||").replace("% 2 = 0", "% 8 = 1"))
        await db.execute("UPDATE finance.loans SET is_first_loan = false WHERE id % 16 = 1")
    await _all_equal(c, as_, db, monkeypatch)

    # re-posts through the API: an application's decision and a first loan's year changed
    borrower = new_credit_code("330106")
    bank = as_("bank", org="B1")
    for decision, applied_on, issued_on in (("pending", "2022-03-01", "2022-03-15"),
                                            ("approved", "2021-11-30", "2021-12-15")):  # fmt: skip
        r = await c.post(
            "/v1/applications/batch",
            json={"records": [application(borrower, application_ref="RA1", applied_on=applied_on,
                                          decision=decision,
                                          decided_on=None if decision == "pending" else applied_on)]},
            headers=bank,
        )  # fmt: skip
        assert r.status_code == 200 and r.json()["summary"]["rejected"] == 0, r.text
        r = await c.post(
            "/v1/loans/batch",
            json={
                "records": [loan(borrower=borrower, loan_ref="RL1", issued_on=issued_on, is_first_loan=True)]
            },
            headers=bank,
        )
        assert r.status_code == 200 and r.json()["summary"]["rejected"] == 0, r.text
    await _all_equal(c, as_, db, monkeypatch)

    # a truncated ledger leaves the other's borrower years
    await db.execute("TRUNCATE finance.loan_applications")
    await _all_equal(c, as_, db, monkeypatch)
    await db.execute("TRUNCATE finance.loans CASCADE")
    assert await _stored(db) == ([], [], [])


_CRAFTED_LOAN = """
    INSERT INTO finance.loans (lender, loan_ref, borrower_credit_code, borrower_region, borrower_name,
        borrower_size, product, amount, annual_rate, issued_on, matures_on, renewal_type, is_first_loan,
        outstanding_balance, status, closed_on, matched, size_class, size_source, inclusive,
        inclusive_reason, rule_set_version)
    VALUES ($1, $2, $3, $4, '企业', $5, 'credit', $6::numeric, 4.35, $7, '2025-12-31', 'new', $8,
            CASE WHEN $9::date IS NULL THEN $6::numeric ELSE 0 END, CASE WHEN $9::date IS NULL THEN 'outstanding' ELSE 'repaid' END,
            $9::date, false, $5, 'bank', false, 'not_small_micro', 'test')"""
_CRAFTED_APPLICATION = """
    INSERT INTO finance.loan_applications (lender, application_ref, borrower_credit_code, borrower_region,
        applied_on, amount_requested, decision, decided_on, borrower_size, size_class, size_source,
        rule_set_version)
    VALUES ($1, $2, $3, $4, $5::date, 100000, $6::text, CASE WHEN $6::text = 'pending' THEN NULL ELSE $5::date END,
            $7::text, $7::text,
            'bank', 'test')"""


async def test_borrower_years_and_their_counts_hold_the_hand_computed_rows(client_for, as_, db, monkeypatch):
    """X and Y in Hangzhou's 西湖区 (330106), Z in Ningbo's 鄞州区 (330212), two banks.
    Applications: X small approved at B1 and micro rejected at B2; Y medium approved and of no
    size pending at B1; Z micro pending at B2 (2022) and small approved at B1 (2021). First loans:
    X at B1 and B2 (2022), Z at B2 (2021); Y's micro loan at B1 is no first loan (issued January
    2022, repaid September). 申贷获得率 2022: X and Z applied as small/micro, X obtained (50 %),
    Y applied of other sizes; 首贷户 2022: X."""
    x, y, z = new_credit_code("330106"), new_credit_code("330106"), new_credit_code("330212")
    for lender, ref, b, reg, size, amount, issued, first, closed in (
        ("B1", "L1", x, "330106", "small", 1000000, date(2022, 2, 1), True, None),
        ("B2", "L2", x, "330106", "medium", 3000000, date(2022, 8, 1), True, None),
        ("B2", "L3", z, "330212", "micro", 2000000, date(2021, 6, 1), True, None),
        ("B1", "L4", y, "330106", "micro", 500000, date(2022, 1, 10), False, date(2022, 9, 15)),
    ):
        await db.execute(_CRAFTED_LOAN, lender, ref, b, reg, size, amount, issued, first, closed)
    for lender, ref, b, reg, applied, decision, size in (
        ("B1", "A1", x, "330106", date(2022, 3, 1), "approved", "small"),
        ("B2", "A2", x, "330106", date(2022, 5, 1), "rejected", "micro"),
        ("B1", "A3", y, "330106", date(2022, 4, 1), "approved", "medium"),
        ("B1", "A4", y, "330106", date(2022, 6, 1), "pending", None),
        ("B2", "A5", z, "330212", date(2022, 7, 1), "pending", "micro"),
        ("B1", "A6", z, "330212", date(2021, 12, 31), "approved", "small"),
    ):
        await db.execute(_CRAFTED_APPLICATION, lender, ref, b, reg, applied, decision, size)

    T, F = True, False
    # (borrower, year, lender cell, county, applied small/micro, obtained, applied other, first loan)
    assert (await _stored(db))[0] == sorted([
        (x, 2022, "", "330106", T, T, F, T), (x, 2022, "B1", "330106", T, T, F, T),
        (x, 2022, "B2", "330106", T, F, F, T),
        (y, 2022, "", "330106", F, F, T, F), (y, 2022, "B1", "330106", F, F, T, F),
        (z, 2021, "", "330212", T, T, F, T), (z, 2021, "B1", "330212", T, T, F, F),
        (z, 2021, "B2", "330212", F, F, F, T),
        (z, 2022, "", "330212", T, F, F, F), (z, 2022, "B2", "330212", T, F, F, F),
    ])  # fmt: skip
    # (year, region cell, lender cell) → (applied, obtained, other_applied, first_time)
    counts = {(r[0], r[1], r[2]): r[3:] for r in (await _stored(db))[1]}
    province_2022 = {"": (2, 1, 1, 1), "B1": (1, 1, 1, 1), "B2": (2, 0, 0, 1)}
    hangzhou_2022 = {"": (1, 1, 1, 1), "B1": (1, 1, 1, 1), "B2": (1, 0, 0, 1)}
    ningbo_2022 = {"": (1, 0, 0, 0), "B2": (1, 0, 0, 0)}
    ningbo_2021 = {"": (1, 1, 0, 1), "B1": (1, 1, 0, 0), "B2": (0, 0, 0, 1)}
    expected = {}
    for year, cells, regions in (
        (2022, province_2022, ("", "33")),
        (2022, hangzhou_2022, ("3301", "330106")),
        (2022, ningbo_2022, ("3302", "330212")),
        (2021, ningbo_2021, ("", "33", "3302", "330212")),
    ):
        for region in regions:
            for sl, v in cells.items():
                expected[(year, region, sl)] = v
    assert counts == expected
    # the small/micro balance deltas by month: L3 +2,000,000 (June 2021), L4 +500,000 (January
    # 2022) and −500,000 (September), L1 +1,000,000 (February 2022); L2 is medium
    sm = await db.fetch(
        "SELECT month::text, sum(sm_delta) FROM finance.loan_month_totals GROUP BY 1 HAVING sum(sm_delta) <> 0 ORDER BY 1"
    )
    assert [tuple(r) for r in sm] == [
        ("2021-06-01", 2000000), ("2022-01-01", 500000), ("2022-02-01", 1000000), ("2022-09-01", -500000)
    ]  # fmt: skip
    assert await _stored(db) == await _rebuilt(db)

    c = client_for("finance")
    fast, slow = await both(c, as_("admin"), {"year": 2022, "group_by": "city"}, monkeypatch)
    assert fast == slow
    a = fast["applications"]
    assert (a["applied_enterprises"], a["obtained_enterprises"], a["approval_rate"], a["other_sizes_applied"]) == (
        2, 1, "50.00", 1
    )  # fmt: skip
    assert fast["totals"]["first_time_borrowers"] == 1
    assert {g["key"]: g["first_time_borrowers"] for g in fast["groups"]} == {"330100": 1, "330200": 0}
    smb = fast["targets"]["smb_new_loans"]
    assert (Decimal(smb["balance_at_start"]), Decimal(smb["balance_at_end"])) == (0, Decimal("3000000"))
    fast, slow = await both(c, as_("bank", org="B2"), {"year": 2022}, monkeypatch)
    assert fast == slow
    a = fast["applications"]
    assert (a["applied_enterprises"], a["obtained_enterprises"], a["other_sizes_applied"]) == (2, 0, 0)
    assert fast["totals"]["first_time_borrowers"] == 1
    fast, slow = await both(c, as_("official", region="330200"), {"year": 2021}, monkeypatch)
    assert fast == slow
    assert (fast["applications"]["applied_enterprises"], fast["totals"]["first_time_borrowers"]) == (1, 1)


async def test_two_banks_writing_shared_borrowers_in_opposite_orders_never_deadlock(
    client_for, as_, db, database_url, monkeypatch
):
    """Two banks' transactions write applications and first loans of the same borrowers, one in
    the reverse order of the other, at once, several times: the summaries apply in credit-code
    order, so neither deadlocks nor waits past its lock timeout, and the summaries stay exact."""
    shared = [new_credit_code("330106") for _ in range(12)]
    conns = [await asyncpg.connect(plain_url(database_url)) for _ in range(2)]
    try:

        async def bank(conn, lender: str, borrowers: list[str], tag: str) -> None:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '20s'")
                for b in borrowers:  # one statement a borrower: the order the bank meets them
                    await _write(conn, lender, [b], tag)

        for run in range(4):
            await asyncio.gather(
                bank(conns[0], "BANK-A", shared, str(run)), bank(conns[1], "BANK-B", shared[::-1], str(run))
            )
    finally:
        for conn in conns:
            await conn.close()
    assert await db.fetchval("SELECT count(*) FROM finance.loan_applications") == 2 * 4 * 12 * 3
    await _summaries_are_exact(client_for("finance"), as_, db, monkeypatch)
