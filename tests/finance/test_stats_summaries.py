"""The month summaries the statistics read for month-aligned periods agree exactly with the
figures computed from the loans, after inserts, updates (re-posts, direct changes), deletes and a
credit line that re-classifies loans."""

import pytest

from services.finance.seed import generate
from services.finance.stats import service as stats_service
from tests.finance.helpers import loan
from tests.finance.test_stats import dataset  # noqa: F401  (fixture)

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
    months = await db.fetch(
        "SELECT scope_region, scope_lender, month, delta FROM finance.loan_inclusive_borrower_months"
        " WHERE delta <> 0 ORDER BY 1, 2, 3"
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
    import asyncio
    import random

    from tests.registry_data import new_credit_code

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
