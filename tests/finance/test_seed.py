"""The demo seed and the bulk generator load consistent data."""

from services.finance.seed import generate, seed_demo
from tests.registry_data import add_enterprise


async def test_demo_seed_is_deterministic_and_logged(db, client_for, as_):
    for _ in range(3):
        await add_enterprise(db, sizes={2021: "small", 2022: "micro"})
    await seed_demo(db)
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM finance.loans) AS loans, (SELECT count(*) FROM finance.institutions) AS inst,"
        " (SELECT count(*) FROM finance.guarantees) AS g, (SELECT count(*) FROM finance.credit_lines) AS lines"
    )
    assert (counts["loans"], counts["inst"], counts["g"], counts["lines"]) == (9, 7, 1, 1)
    assert await db.fetchval("SELECT bool_and(matched) FROM finance.loans")
    await seed_demo(db)  # again: nothing changes
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 9
    s = (await client_for("finance").get("/v1/stats", params={"year": 2022}, headers=as_("admin"))).json()
    assert s["totals"]["new_loans"]["all"]["count"] == 3
    # every demo bank reports its whole book at the year ends 2019–2022 (5 × 4), once however often
    assert await db.fetchval("SELECT count(*) FROM finance.loan_book_reports") == 20
    assert all(t["reason"] != "no_loan_book_report" for t in s["two_increases"])


async def test_generate_bulk_loads_loans(db):
    await generate(db, 1000)
    await generate(db, 500)
    assert await db.fetchval("SELECT count(DISTINCT (lender, loan_ref)) FROM finance.loans") == 1500
