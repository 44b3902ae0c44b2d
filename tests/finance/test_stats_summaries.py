"""The month summaries the statistics read for month-aligned periods agree exactly with the
figures computed from the loans, after inserts, updates (re-posts, direct changes), deletes and a
credit line that re-classifies loans."""

import asyncio

import asyncpg
import pytest

from services.common.db import plain_url
from services.finance.seed import generate
from services.finance.stats import service as stats_service
from tests.finance.helpers import loan
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
           4.35, make_date(2022, m, 15), '2024-12-31', 'new', false,
           CASE WHEN m % 3 = 0 THEN 0 ELSE 1000000 END,
           CASE WHEN m % 3 = 0 THEN 'repaid' ELSE 'outstanding' END,
           CASE WHEN m % 3 = 0 THEN make_date(2023, m, 1) END,
           false, 'small', 'bank', true, 'no_line_loans_total_within_cap', 'test'
    FROM unnest($2::text[]) AS b, generate_series(1, 6) AS m"""


async def _write(conn, lender: str, borrowers: list[str], tag: str) -> None:
    """Six loans per borrower at `lender` (the same region, product and months for every lender, so
    that all of them count in the same all-lender cells), in the caller's transaction."""
    await conn.execute(_INSERT, lender, borrowers, tag)


async def _summaries_are_exact(c, as_, db, monkeypatch) -> None:
    assert await _islands_and_deltas(db) == await _recomputed(db)
    for params, kind, extra in QUERIES[:5]:
        fast, slow = await both(c, as_(kind, **extra), params, monkeypatch)
        assert fast == slow, params
    # a by-lender cell's rows are its lender's own
    assert not await db.fetchval(
        "SELECT count(*) FROM finance.loan_inclusive_borrower_months WHERE scope_lender <> '' AND lender <> scope_lender"
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
