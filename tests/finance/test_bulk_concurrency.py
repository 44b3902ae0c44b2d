"""Finance batch upserts under concurrency: the change log holds what really happened.

Several batches run at once against the in-process app (each on its own pooled connection of the
real PostgreSQL). To make them overlap for certain, a transaction of the test's own holds the
records they write until every batch is waiting on it; then it lets go and they go through one
after the other, exactly as clients' batches racing on one record do.
"""

import asyncio
import json

import asyncpg
from sqlalchemy import text

from tests.finance.helpers import loan

BANK = "B001"


async def post(c, headers, records):
    return await c.post("/v1/loans/batch", json={"records": records}, headers=headers)


async def wait_until_waiting(db, holder, n: int) -> None:
    """Wait until `n` other backends of this database wait on a lock (behind the holder)."""
    for _ in range(400):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid NOT IN (pg_backend_pid(), $1)",
            holder.get_server_pid(),
        )
        if waiting >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {waiting} of {n} batches reached the held rows")


async def changes(db, ref: str) -> list[asyncpg.Record]:
    """The change log of one loan in the order it was written (the writers held the row's lock
    from their write to their commit, so this is their commit order)."""
    return await db.fetch(
        "SELECT action, before, after FROM finance.changes WHERE entity_type = 'loan' AND entity_key = $1 "
        "ORDER BY seq",
        f"{BANK}/{ref}",
    )


def doc(value: str | None) -> dict | None:
    return None if value is None else json.loads(value, parse_float=str)  # money exactly as stored


async def test_concurrent_updates_of_one_loan_log_each_value_they_replaced(client_for, as_, db, holder):
    """Six batches update the same three loans, each to a different balance, all at once: each is
    reported updated, and each loan's change log is an exact chain — the first update replaced
    the original row, every later one the row the previous update wrote, the last one is stored."""
    c, bank = client_for("finance"), as_("bank", org=BANK)
    originals = [loan(outstanding_balance="900000.00") for _ in range(3)]
    assert (await post(c, bank, originals)).json()["summary"]["created"] == 3
    refs = [r["loan_ref"] for r in originals]
    stored = {
        r["loan_ref"]: doc(r["row"])
        for r in await db.fetch(
            "SELECT loan_ref, to_jsonb(l)::text AS row FROM finance.loans l WHERE loan_ref = ANY($1)", refs
        )
    }
    batches = [
        [
            dict(r, outstanding_balance=f"{800000 + 10000 * k}.00")
            for r in (originals if k % 2 else originals[::-1])
        ]
        for k in range(6)
    ]

    tx = holder.transaction()
    await tx.start()
    await holder.execute("SELECT 1 FROM finance.loans WHERE loan_ref = ANY($1) FOR UPDATE", refs)
    tasks = [asyncio.create_task(post(c, bank, b)) for b in batches]
    try:
        await wait_until_waiting(db, holder, len(batches))
    finally:
        await tx.rollback()
    responses = await asyncio.gather(*tasks)

    assert [r.status_code for r in responses] == [200] * 6, [r.text[:300] for r in responses]
    assert all(x["status"] == "updated" for r in responses for x in r.json()["results"])
    for ref in refs:
        log = await changes(db, ref)
        assert [x["action"] for x in log] == ["created"] + ["updated"] * 6
        assert doc(log[1]["before"]) == stored[ref]
        for previous, change in zip(log[1:], log[2:], strict=False):
            assert doc(change["before"]) == doc(previous["after"]), (ref, change["before"], previous["after"])
        balances = [doc(x["after"])["outstanding_balance"] for x in log[1:]]
        assert sorted(balances) == sorted(f"{800000 + 10000 * k}.00" for k in range(6))  # each batch once
        now = await db.fetchval("SELECT to_jsonb(l)::text FROM finance.loans l WHERE loan_ref = $1", ref)
        assert doc(now) == doc(log[-1]["after"])


async def test_two_batches_creating_one_new_loan_at_once_log_one_creation_and_what_the_other_replaced(
    client_for, as_, db, holder
):
    """Two batches post the same two new refs at once. For the ref they post with different
    balances, one creates the loan and the other updates it, logging the created row as `before`;
    for the ref they post identically, one creates it and the other reports it unchanged."""
    c, bank = client_for("finance"), as_("bank", org=BANK)
    differing, identical = loan(), loan()
    batches = [[dict(differing, outstanding_balance=f"{b}.00"), identical] for b in (700000, 600000)]

    # the holder inserts both refs without committing: both batches wait on its insert, and when it
    # rolls back one of them creates each loan while the other waits for that one to commit
    tx = holder.transaction()
    await tx.start()
    await holder.execute(
        "INSERT INTO finance.loans (lender, loan_ref, borrower_credit_code, borrower_region, borrower_name,"
        " borrower_size, product, amount, annual_rate, issued_on, matures_on, renewal_type, is_first_loan,"
        " outstanding_balance, status, matched, size_class, size_source, inclusive, inclusive_reason,"
        " rule_set_version)"
        " SELECT $1, ref, $2, '330106', 'x', 'small', 'credit', 1, 1, '2022-03-01', '2023-03-01', 'new',"
        " false, 1, 'outstanding', false, 'small', 'bank', true, 'no_line_loans_total_within_cap', 'held'"
        " FROM unnest($3::text[]) AS ref",
        BANK,
        differing["borrower_credit_code"],
        [differing["loan_ref"], identical["loan_ref"]],
    )
    tasks = [asyncio.create_task(post(c, bank, b)) for b in batches]
    try:
        await wait_until_waiting(db, holder, len(batches))
    finally:
        await tx.rollback()
    responses = await asyncio.gather(*tasks)

    assert [r.status_code for r in responses] == [200, 200], [r.text[:300] for r in responses]
    statuses = [{x["key"]: x["status"] for x in r.json()["results"]} for r in responses]
    assert sorted(s[differing["loan_ref"]] for s in statuses) == ["created", "updated"]
    assert sorted(s[identical["loan_ref"]] for s in statuses) == ["created", "unchanged"]

    created, updated = await changes(db, differing["loan_ref"])
    assert (created["action"], created["before"]) == ("created", None)
    assert updated["action"] == "updated"
    assert doc(updated["before"]) == doc(created["after"])
    now = await db.fetchval(
        "SELECT to_jsonb(l)::text FROM finance.loans l WHERE loan_ref = $1", differing["loan_ref"]
    )
    assert doc(now) == doc(updated["after"])
    assert [x["action"] for x in await changes(db, identical["loan_ref"])] == ["created"]


async def test_concurrent_batches_of_one_bank_over_shared_borrowers_all_go_through(client_for, as_, db):
    """Each loan batch re-derives every loan of the borrowers it touched (totals, 普惠 flags). Four
    batches of one bank over the same 40 borrowers, at once: without `hold_institution` two of
    them, each holding its own new loans and waiting for the other's, deadlock (a 500). Now they
    take turns, and every loan is written once."""
    from tests.registry_data import new_credit_code

    c, bank = client_for("finance"), as_("bank", org=BANK)
    borrowers = [new_credit_code("330106") for _ in range(40)]
    batches = [
        [loan(borrower=borrowers[(i * 7 + b) % 40], loan_ref=f"SH-{b}-{i:03d}") for i in range(200)]
        for b in range(4)
    ]
    for round_ in range(2):  # the second round updates every loan (another amount), racing again
        answers = await asyncio.gather(
            *(post(c, bank, [{**r, "amount": f"{1000000 + round_}.00"} for r in recs]) for recs in batches)
        )
        assert [a.status_code for a in answers] == [200] * 4, [a.text[:300] for a in answers]
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE lender = $1", BANK) == 800
    created = await db.fetchval(
        "SELECT count(*) FROM finance.changes WHERE entity_type = 'loan' AND action = 'created'"
    )
    assert created == 800


async def test_a_transaction_the_database_breaks_off_is_a_503_to_send_again(client_for, as_, db, monkeypatch):
    """A deadlock or serialisation failure (the database rolled the request back) is no 500: a 503
    problem with Retry-After, nothing written, and the same request then goes through."""
    from services.finance.loans import repository

    real = repository.recompute_inclusive

    async def broken_off(*args, **kwargs):
        raise asyncpg.DeadlockDetectedError("deadlock detected")

    c, bank = client_for("finance"), as_("bank", org=BANK)
    records = [loan(loan_ref="DL-1")]
    monkeypatch.setattr(repository, "recompute_inclusive", broken_off)
    r = await post(c, bank, records)
    assert r.status_code == 503 and r.json()["code"] == "transaction_conflict"
    assert r.headers["retry-after"] == "1"
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE loan_ref = 'DL-1'") == 0
    monkeypatch.setattr(repository, "recompute_inclusive", real)
    assert (await post(c, bank, records)).status_code == 200


async def test_a_batch_the_database_cancels_for_waiting_too_long_is_a_503_to_send_again(
    client_for, as_, db, holder, monkeypatch
):
    """A bank's batch that waits behind its own earlier batch (the institution's turn) past the
    statement timeout is cancelled by the database: no 500, but a 503 problem database_busy with
    Retry-After, nothing written, and the same batch then goes through. (The service's timeout
    is 30 s; the test's turn waits under a 0.2 s one, set in the batch's own transaction.)"""
    from services.finance import batching

    real = batching.hold_institution

    async def impatient(session, owner):
        await session.execute(text("SET LOCAL statement_timeout = '200ms'"))
        await real(session, owner)

    c, bank = client_for("finance"), as_("bank", org=BANK)
    records = [loan(loan_ref="BUSY-1")]
    tx = holder.transaction()
    await tx.start()
    await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", batching.RECLASSIFY_LOCK, BANK)
    monkeypatch.setattr(batching, "hold_institution", impatient)
    r = await post(c, bank, records)
    await tx.rollback()
    assert r.status_code == 503 and r.json()["code"] == "database_busy", r.text[:300]
    assert int(r.headers["retry-after"]) >= 1
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE loan_ref = 'BUSY-1'") == 0
    monkeypatch.setattr(batching, "hold_institution", real)
    assert (await post(c, bank, records)).status_code == 200
