"""Loan batches: upsert statuses, partial and atomic commits, idempotency, nothing doubled."""

import asyncio
import json

from tests.finance.helpers import loan
from tests.registry_data import add_enterprise


async def post(c, headers, records, **params):
    return await c.post("/v1/loans/batch", json={"records": records}, headers=headers, params=params)


async def test_created_then_unchanged_then_updated_with_change_log(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    code = await add_enterprise(db, sizes={2022: "small"})
    records = [loan(borrower=code), loan(borrower=code)]
    r = await post(c, bank, records)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["committed"] is True and body["summary"]["created"] == 2
    assert [x["status"] for x in body["results"]] == ["created", "created"]
    assert body["results"][0]["key"] == records[0]["loan_ref"]

    again = (await post(c, bank, records)).json()
    assert [x["status"] for x in again["results"]] == ["unchanged", "unchanged"]
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE entity_type = 'loan'") == 2

    records[1]["outstanding_balance"] = "400000.00"
    third = (await post(c, bank, records)).json()
    assert [x["status"] for x in third["results"]] == ["unchanged", "updated"]
    change = await db.fetchrow(
        "SELECT action, actor_org, before, after FROM finance.changes WHERE action = 'updated'"
    )
    assert change["actor_org"] == "B001"
    assert '"400000.00"' in change["after"] or "400000.00" in change["after"]
    row = await db.fetchrow("SELECT * FROM finance.loans WHERE loan_ref = $1", records[1]["loan_ref"])
    assert row["lender"] == "B001" and str(row["outstanding_balance"]) == "400000.00"
    assert row["rule_set_version"] == body["rule_set_version"]


async def test_one_bad_record_in_5000_commits_4999_and_reports_it(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(5000)]
    records[1234]["annual_rate"] = "37"
    body = (await post(c, bank, records)).json()
    assert body["summary"] == {"received": 5000, "created": 4999, "updated": 0, "unchanged": 0, "rejected": 1}
    bad = body["results"][1234]
    assert bad["status"] == "rejected" and bad["key"] == records[1234]["loan_ref"]
    assert bad["errors"][0]["rule"] == "FIN-V006" and bad["errors"][0]["pointer"] == "/annual_rate"
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 4999


async def test_atomic_batch_with_a_bad_record_commits_nothing(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan(), loan(), loan(amount="0")]
    body = (await post(c, bank, records, atomic="true")).json()
    assert body["committed"] is False and body["atomic"] is True
    assert [x["status"] for x in body["results"]] == ["unchanged", "unchanged", "rejected"]
    assert body["results"][2]["errors"][0]["rule"] == "FIN-V004"
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0
    assert await db.fetchval("SELECT count(*) FROM finance.changes") == 0
    ok = (await post(c, bank, records[:2], atomic="true")).json()
    assert ok["committed"] is True and ok["summary"]["created"] == 2


async def test_idempotency_key_replays_and_refuses_a_different_body(client_for, as_, db):
    c = client_for("finance")
    headers = {**as_("bank", org="B001"), "Idempotency-Key": "batch-2022-03-01"}
    records = [loan()]
    first = await post(c, headers, records)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    replay = await post(c, headers, records)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()  # reports "created" again, wrote nothing
    assert await db.fetchval("SELECT count(*) FROM finance.changes") == 1
    other = await post(c, headers, [loan()])
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 1


async def test_concurrent_posts_of_the_same_loan_ref_never_make_two_rows(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    shared = [loan(loan_ref=f"SAME-{i}") for i in range(200)]
    batches = [[dict(r, annual_rate=f"4.{k}") for r in (shared if k % 2 else shared[::-1])] for k in range(4)]
    responses = await asyncio.gather(*(post(c, bank, b) for b in batches))
    assert all(r.status_code == 200 for r in responses), [r.text[:300] for r in responses]
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 200
    created = sum(r.json()["summary"]["created"] for r in responses)
    assert created == 200


async def test_eight_identical_concurrent_batches_create_and_log_each_loan_once(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(200)]
    responses = await asyncio.gather(*(post(c, bank, records) for _ in range(8)))
    assert all(r.status_code == 200 for r in responses), [r.text[:300] for r in responses]
    statuses = [x["status"] for r in responses for x in r.json()["results"]]
    assert statuses.count("created") == 200 and statuses.count("unchanged") == 1400
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE entity_type = 'loan'") == 200


async def test_a_killed_connection_mid_batch_leaves_nothing(client_for, as_, db, apps):
    """The batch runs in one transaction: terminating its backend mid-statement rolls it all back."""
    c, bank = client_for("finance"), as_("bank", org="B001")
    await db.execute(
        "CREATE OR REPLACE FUNCTION finance._slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$"
    )
    await db.execute(
        "CREATE TRIGGER _slow BEFORE INSERT ON finance.loans FOR EACH ROW EXECUTE FUNCTION finance._slow()"
    )
    try:
        task = asyncio.create_task(post(c, bank, [loan() for _ in range(1000)]))
        for _ in range(200):
            await asyncio.sleep(0.05)
            killed = await db.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE '%INSERT INTO finance.loans%' AND pid <> pg_backend_pid() AND state = 'active'"
            )
            if killed:
                break
        r = await task
        assert killed and r.status_code >= 500
    finally:
        await db.execute("DROP TRIGGER _slow ON finance.loans")
        await db.execute("DROP FUNCTION finance._slow()")
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0
    assert await db.fetchval("SELECT count(*) FROM finance.changes") == 0


async def test_a_bank_cannot_choose_the_lender(client_for, as_, db):
    c = client_for("finance")
    body = (await post(c, as_("bank", org="B001"), [loan(lender="B002")])).json()
    err = body["results"][0]["errors"][0]
    assert err["rule"] == "FIN-V012" and err["pointer"] == "/lender"
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0


async def test_only_banks_post_loans_and_batches_are_bounded(client_for, as_):
    c = client_for("finance")
    assert (await post(c, as_("official", region="330000"), [loan()])).status_code == 403
    assert (await post(c, as_("guarantor", org="G001"), [loan()])).status_code == 403
    assert (await c.post("/v1/loans/batch", json={"records": [loan()]})).status_code == 401
    r = await post(c, as_("bank", org="B001"), [loan() for _ in range(5001)])
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/records"
    r = await post(c, as_("bank", org="B001"), [])
    assert r.status_code == 422


async def test_hostile_text_rejects_only_its_record_of_5000_with_the_text_rule(client_for, as_, db):
    """A NUL (PostgreSQL text cannot hold one) or a lone surrogate (JSON "\\ud800") in one record's
    field is that record's FIN-V017; the other records of the full-size batch are created."""
    c, bank = client_for("finance"), as_("bank", org="B001")
    records = [loan() for _ in range(5000)]
    records[1234]["borrower_name"] = "杭州\x00测试"
    records[4321]["borrower_name"] = "杭州\ud800测试"
    records[17]["loan_ref"] = "L-\ud83d-17"  # in the key: the answer cannot echo it
    r = await c.post(
        "/v1/loans/batch",
        content=json.dumps({"records": records}),  # ASCII JSON: the surrogate travels as \ud800
        headers={**bank, "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"] == {"received": 5000, "created": 4997, "updated": 0, "unchanged": 0, "rejected": 3}
    assert body["rule_set_version"] == "fin-2024.3"
    for index, pointer, code in (
        (1234, "/borrower_name", "text_control_character"),
        (4321, "/borrower_name", "text_invalid_unicode"),
        (17, "/loan_ref", "text_invalid_unicode"),
    ):
        result = body["results"][index]
        assert result["status"] == "rejected" and result["index"] == index
        assert [(e["rule"], e["pointer"], e["code"]) for e in result["errors"]] == [
            ("FIN-V017", pointer, code)
        ]
    assert "U+0000" in body["results"][1234]["errors"][0]["message"]
    assert body["results"][1234]["key"] == records[1234]["loan_ref"] and body["results"][17]["key"] is None
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 4997
    rules = (await c.get("/v1/rules", headers=bank)).json()
    assert any(rule["id"] == "FIN-V017" for rule in rules["rules"]) and rules["version"] == "fin-2024.3"


async def test_a_control_character_in_a_query_or_path_parameter_is_a_422_with_its_pointer(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B001")
    r = await c.get("/v1/loans", params={"lender": "B0\x0001"}, headers=bank)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"] == "#/query/lender"
    assert r.json()["errors"][0]["code"] == "text_control_character"
    r = await c.get("/v1/loans/L%00001", headers=bank)
    assert r.status_code == 422
    assert [(e["pointer"], e["code"]) for e in r.json()["errors"]] == [
        ("#/path/loan_ref", "text_control_character")
    ]


async def test_a_misspelt_field_rejects_only_its_record_with_a_pointer(client_for, as_, db):
    """The OpenAPI forbids other fields in a record (additionalProperties: false); the service does
    the same record by record: `amout` is that record's finding at /amout (and /amount is missing),
    never a 422 for the batch, and the record beside it is created."""
    c, bank = client_for("finance"), as_("bank", org="B001")
    good, typo = loan(), loan()
    typo["amout"] = typo.pop("amount")
    body = (await post(c, bank, [good, typo])).json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected"]
    findings = {(e["pointer"], e["code"]) for e in body["results"][1]["errors"]}
    assert findings == {("/amout", "extra_forbidden"), ("/amount", "missing")}
    assert body["results"][1]["key"] == typo["loan_ref"]
