"""After a loan batch, only the stored loans beside it are re-derived (those issued on or after
the batch's earliest version of the borrower): the batch's own loans were derived by its upsert
with the same rule (each other's amounts and the stored loans counted), so a `reclassified`
change row names exactly a stored loan whose totals or flag moved. Whatever the batches, the
stored loans then equal a full re-derivation of every loan."""

from __future__ import annotations

import json
import random
from datetime import date

from services.common.auth import Principal
from services.finance.loans.repository import recompute_inclusive
from tests.finance.helpers import line, loan
from tests.registry_data import add_enterprise, new_credit_code

ACTOR = Principal(sub="test", kind="bank", org="B1")


async def post(c, path, headers, records):
    r = await c.post(path, json={"records": records}, headers=headers)
    assert r.status_code == 200, r.text
    return {x["key"]: x["status"] for x in r.json()["results"]}


def open_loan(borrower: str, ref: str, issued_on: str, amount: str, **over) -> dict:
    fields = {"loan_ref": ref, "issued_on": issued_on, "matures_on": "2024-12-31", "amount": amount}
    return loan(borrower=borrower, **{**fields, "outstanding_balance": amount, **over})


def as_json(text: str | None):
    return None if text is None else json.loads(text, parse_float=str)  # money as its text


async def changes(db, action: str) -> list:
    rows = await db.fetch(
        "SELECT entity_key, before, after FROM finance.changes WHERE action = $1 ORDER BY seq", action
    )
    return [(r["entity_key"], as_json(r["before"]), as_json(r["after"])) for r in rows]


async def test_a_loan_batchs_own_loans_get_no_reclassified_row_its_stored_neighbours_do(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [
        open_loan(s, "Z", "2022-01-01", "1000000.00"),
        open_loan(s, "A", "2022-03-01", "1000000.00"),
        open_loan(s, "Y", "2022-04-01", "1000000.00"),
    ])  # fmt: skip
    assert await changes(db, "reclassified") == []  # one batch: each counted the others when stored
    # N (3M, issued before A and Y) is new and A grows to 2M: A = 2 + Z 1 + N 3 = 6M, N = 3 + Z 1
    # = 4M, both derived by the upsert; Y, stored beside the batch, moves 3M → 1 + Z 1 + A 2 + N 3
    # = 7M; Z, issued before them all, stays 1M
    statuses = await post(c, "/v1/loans/batch", bank, [
        open_loan(s, "N", "2022-02-01", "3000000.00"),
        open_loan(s, "A", "2022-03-01", "2000000.00"),
    ])  # fmt: skip
    assert statuses == {"N": "created", "A": "updated"}
    written = {
        k: after["loans_total"] for k, _, after in await changes(db, "created") + await changes(db, "updated")
    }
    assert (written["B1/N"], written["B1/A"]) == ("4000000.00", "6000000.00")
    reclassified = await changes(db, "reclassified")
    assert [(k, before["loans_total"], after["loans_total"]) for k, before, after in reclassified] == [
        ("B1/Y", "3000000.00", "7000000.00")
    ]
    # the row's versions are the loan's whole row, before and as stored now
    stored = as_json(await db.fetchval("SELECT to_jsonb(l)::text FROM finance.loans l WHERE loan_ref = 'Y'"))
    assert reclassified[0][2] == stored
    assert reclassified[0][1] == {
        **stored,
        "loans_total": "3000000.00",
        "updated_at": reclassified[0][1]["updated_at"],
    }
    # nothing is left for a full re-derivation of every loan of the borrower to change
    assert await recompute_inclusive(db, "B1", [s], ACTOR) == 0


async def test_a_loan_moved_to_another_borrower_re_derives_the_loans_it_left(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    x, w = new_credit_code(), new_credit_code()
    await post(c, "/v1/loans/batch", bank, [
        open_loan(x, "M1", "2022-01-01", "1000000.00"), open_loan(x, "M2", "2022-02-01", "1000000.00"),
    ])  # fmt: skip
    assert await post(c, "/v1/loans/batch", bank, [open_loan(w, "M1", "2022-01-01", "1000000.00")]) == {
        "M1": "updated"
    }
    reclassified = await changes(db, "reclassified")
    assert [(k, b["loans_total"], a["loans_total"]) for k, b, a in reclassified] == [
        ("B1/M2", "2000000.00", "1000000.00")
    ]
    assert await recompute_inclusive(db, "B1", [x, w], ACTOR) == 0


async def test_a_batch_without_stored_neighbours_reclassifies_nothing(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2022: "small"})
    other = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [open_loan(other, "O", "2022-01-01", "1000000.00")])
    # the batch's borrower has no loan beside it; the other borrower's loan is not its customer's
    await post(c, "/v1/loans/batch", bank, [
        open_loan(s, "P", "2022-02-01", "6000000.00"), open_loan(s, "Q", "2022-03-01", "5000000.00"),
    ])  # fmt: skip
    assert await changes(db, "reclassified") == []
    got = {
        r["loan_ref"]: (r["loans_total"], r["inclusive"])
        for r in await db.fetch("SELECT * FROM finance.loans")
    }
    assert {k: (str(t), f) for k, (t, f) in got.items()} == {
        "O": ("1000000.00", True), "P": ("6000000.00", True), "Q": ("11000000.00", False),
    }  # fmt: skip


async def test_a_credit_line_batch_still_re_derives_every_loan_of_its_borrowers(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [
        open_loan(s, "A", "2022-03-01", "1000000.00"), open_loan(s, "B", "2022-04-01", "1000000.00"),
    ])  # fmt: skip
    await post(c, "/v1/credit-lines/batch", bank, [line(s, amount="12000000.00")])
    reclassified = await changes(db, "reclassified")
    assert sorted((k, a["inclusive_reason"]) for k, _, a in reclassified) == [
        ("B1/A", "line_total_over_cap"), ("B1/B", "line_total_over_cap"),
    ]  # fmt: skip


async def test_after_any_batches_the_stored_loans_equal_a_full_re_derivation(client_for, as_, db):
    """Random batches over few customers (owners beside their enterprise, closings, moves between
    borrowers, re-posts, lines between them): after each, re-deriving every loan changes nothing."""
    c, bank = client_for("finance"), as_("bank", org="B1")
    rng = random.Random(20261203)
    borrowers = [await add_enterprise(db, sizes={2022: "small"}) for _ in range(3)] + [new_credit_code()]
    refs = [f"R{i:02d}" for i in range(24)]
    for round_ in range(8):
        if round_ % 3 == 2:
            await post(c, "/v1/credit-lines/batch", bank, [
                line(rng.choice(borrowers), amount=f"{rng.choice([3, 8, 11])}000000.00",
                     granted_on=f"2022-0{rng.randint(1, 6)}-01")
            ])  # fmt: skip
        batch = []
        for ref in rng.sample(refs, rng.randint(1, 8)):
            day = f"2022-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"
            amount = f"{rng.choice([1, 2, 3, 4])}000000.00"
            over: dict = {}
            if rng.random() < 0.3:
                over = {"borrower_kind": "business_owner", "customer_ref": rng.choice(["OWN-1", "OWN-2"])}
            if rng.random() < 0.25:
                over |= {"status": "repaid", "outstanding_balance": "0.00", "closed_on": "2022-10-01"}
            batch.append(open_loan(rng.choice(borrowers), ref, day, amount, **over))
        await post(c, "/v1/loans/batch", bank, batch)
        assert await recompute_inclusive(db, "B1", borrowers, ACTOR) == 0, f"round {round_}"
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE action = 'reclassified'") > 0


async def test_the_customers_totals_are_joined_by_hash_for_a_lender_the_statistics_have_not_seen(
    client_for, as_, db
):
    """A lender whose rows ANALYZE has not seen is estimated at a row or two, for which the
    planner would pair each loan with every loan of the borrowers in a nested loop (10 s for a
    5,000-loan batch of a new bank); the re-derivation's statement runs with nested loops off."""
    from services.finance.loans import repository
    from services.finance.seed import generate

    await generate(db, 20_000)  # other lenders' loans: the ledger is read by its indexes
    await db.execute("ANALYZE finance.loans")  # the statistics before lender NB1 has a row
    c, bank = client_for("finance"), as_("bank", org="NB1")
    borrowers = [new_credit_code("330106") for _ in range(500)]
    first = [loan(borrower=b, issued_on=f"2022-0{m}-01") for b in borrowers for m in (3, 5, 7)]
    for i in range(0, len(first), 5000):
        await post(c, "/v1/loans/batch", bank, first[i : i + 5000])
    plans: list[str] = []

    class Explained:  # the statement's plan, under the settings it runs with
        def __init__(self, conn):
            self.conn = conn

        def __getattr__(self, name):
            return getattr(self.conn, name)

        async def execute(self, sql, *args):
            if "WITH ct AS" in sql:
                plans.append("\n".join(r[0] for r in await self.conn.fetch("EXPLAIN " + sql, *args)))
            return await self.conn.execute(sql, *args)

    since = {b: date(2022, 2, 1) for b in borrowers}
    async with db.transaction():
        moved = await repository.recompute_inclusive(
            Explained(db), "NB1", borrowers, ACTOR, beside=repository.Beside([], since)
        )
        assert await db.fetchval("SELECT current_setting('enable_nestloop')") == "on"  # restored
    assert moved == 0 and len(plans) == 1
    assert "Nested Loop" not in plans[0], plans[0]
