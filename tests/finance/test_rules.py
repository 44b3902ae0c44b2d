"""Every rule id fires on the record it describes, with its severity and pointer."""

import pytest

from tests.finance.helpers import guarantee, loan
from tests.registry_data import add_enterprise, new_credit_code

BAD_LOANS = [
    ("FIN-V001", "/borrower_credit_code", {"borrower_credit_code": "91350100M000100Y4Z"}),
    ("FIN-V002", "/amount", {"amount": None}),
    ("FIN-V003", "/product", {"product": "payday"}),
    ("FIN-V004", "/amount", {"amount": "1000000000000.01"}),
    ("FIN-V004", "/amount", {"amount": "0"}),
    ("FIN-V005", "/amount", {"amount": "100.001"}),
    ("FIN-V005", "/outstanding_balance", {"outstanding_balance": "-1.00"}),
    ("FIN-V006", "/annual_rate", {"annual_rate": "36.01"}),
    ("FIN-V007", "/matures_on", {"matures_on": "2022-02-28"}),
    ("FIN-V008", "/outstanding_balance", {"outstanding_balance": "1000000.01"}),
    ("FIN-V009", "/closed_on", {"status": "repaid", "outstanding_balance": "0.00"}),
    ("FIN-V009", "/closed_on", {"closed_on": "2022-06-01"}),
    ("FIN-V011", "/issued_on", {"issued_on": "2022-13-01"}),
    ("FIN-V012", "/lender", {"lender": "B002"}),
    ("FIN-V013", "/loan_ref", {"loan_ref": " padded "}),
    ("FIN-V014", "/borrower_name", {"borrower_name": ""}),
]


@pytest.mark.parametrize(("rule", "pointer", "change"), BAD_LOANS, ids=[f"{b[0]}{b[1]}" for b in BAD_LOANS])
async def test_loan_errors_reject_the_record(client_for, as_, rule, pointer, change):
    record = loan(**change)
    if change.get("amount") is None and "amount" in change:
        del record["amount"]
    r = await client_for("finance").post(
        "/v1/loans/batch", json={"records": [record, loan()]}, headers=as_("bank", org="B001")
    )
    results = r.json()["results"]
    assert results[0]["status"] == "rejected" and results[1]["status"] == "created"
    found = {(e["rule"], e["pointer"], e["severity"]) for e in results[0]["errors"]}
    assert (rule, pointer, "error") in found, results[0]["errors"]


async def test_duplicate_refs_in_one_batch_reject_every_occurrence(client_for, as_, db):
    a, b = loan(loan_ref="DUP"), loan(loan_ref="DUP")
    body = (
        await client_for("finance").post(
            "/v1/loans/batch", json={"records": [a, loan(), b]}, headers=as_("bank", org="B001")
        )
    ).json()
    assert [x["status"] for x in body["results"]] == ["rejected", "created", "rejected"]
    assert body["results"][0]["errors"][0]["rule"] == "FIN-V010"
    assert await db.fetchval("SELECT count(*) FROM finance.loans WHERE loan_ref = 'DUP'") == 0


async def test_a_record_a_rule_rejects_is_no_occurrence_of_its_ref(client_for, as_, db):
    """Rules run before the duplicate check, which sees only the records that passed them."""
    bad, good = loan(loan_ref="ONCE", matures_on="2022-02-28"), loan(loan_ref="ONCE")
    body = (
        await client_for("finance").post(
            "/v1/loans/batch", json={"records": [bad, good]}, headers=as_("bank", org="B001")
        )
    ).json()
    assert [x["status"] for x in body["results"]] == ["rejected", "created"]
    assert [e["rule"] for e in body["results"][0]["errors"]] == ["FIN-V007"]
    assert [x["key"] for x in body["results"]] == ["ONCE", "ONCE"]


async def test_a_rejected_record_reports_no_warnings(client_for, as_):
    stranger = new_credit_code("330782")
    records = [
        loan(borrower=stranger, matures_on="2022-02-28"),  # FIN-V007
        loan(borrower=stranger, loan_ref="TWICE"),
        loan(borrower=stranger, loan_ref="TWICE"),  # FIN-V010, both
        loan(borrower=stranger),
    ]
    body = (
        await client_for("finance").post(
            "/v1/loans/batch", json={"records": records}, headers=as_("bank", org="B001")
        )
    ).json()
    assert [x["status"] for x in body["results"]] == ["rejected", "rejected", "rejected", "created"]
    assert [[w["rule"] for w in x["warnings"]] for x in body["results"]] == [[], [], [], ["FIN-W001"]]
    assert body["results"][1]["errors"][0]["message"] == "loan_ref TWICE appears 2 times in this batch"


async def test_warnings_do_not_block_and_unmatched_borrowers_are_listable(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B001")
    known = await add_enterprise(db, sizes={2022: "micro"})
    stranger = new_credit_code("330782")
    body = (
        await c.post(
            "/v1/loans/batch",
            json={
                "records": [
                    loan(borrower=known, credit_line_ref="NO-LINE", guarantee_ref="NO-G"),
                    loan(borrower=stranger),
                ]
            },
            headers=bank,
        )
    ).json()
    assert [x["status"] for x in body["results"]] == ["created", "created"]
    assert {w["rule"] for w in body["results"][0]["warnings"]} == {"FIN-W002", "FIN-W003"}
    assert [w["rule"] for w in body["results"][1]["warnings"]] == ["FIN-W001"]
    assert body["results"][1]["warnings"][0]["severity"] == "warning"
    items = (await c.get("/v1/loans", params={"unmatched": "true"}, headers=bank)).json()["items"]
    assert [i["borrower_credit_code"] for i in items] == [stranger]
    assert items[0]["borrower_region"] == "330782" and items[0]["unmatched"] is True


BAD_GUARANTEES = [
    ("FIN-V006", "/fee_rate", {"fee_rate": "40"}),
    ("FIN-V007", "/ends_on", {"ends_on": "2021-01-01"}),
    ("FIN-V008", "/outstanding_amount", {"outstanding_amount": "2000000.00"}),
    ("FIN-V009", "/released_on", {"status": "released"}),
    ("FIN-V016", "/recovered_amount", {"status": "compensated", "compensated_on": "2022-09-01",
                                       "compensated_amount": "100.00", "recovered_amount": "200.00"}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "pointer", "change"), BAD_GUARANTEES, ids=[b[0] for b in BAD_GUARANTEES])
async def test_guarantee_errors(client_for, as_, rule, pointer, change):
    body = (
        await client_for("finance").post(
            "/v1/guarantees/batch",
            json={"records": [guarantee(new_credit_code(), **change)]},
            headers=as_("guarantor", org="G001"),
        )
    ).json()
    found = {(e["rule"], e["pointer"]) for e in body["results"][0]["errors"]}
    assert (rule, pointer) in found, body["results"][0]


async def test_guarantee_warning_for_an_unknown_lender(client_for, as_):
    body = (
        await client_for("finance").post(
            "/v1/guarantees/batch",
            json={"records": [guarantee(new_credit_code(), lender_code="NOBANK", loan_ref="L-X")]},
            headers=as_("guarantor", org="G001"),
        )
    ).json()
    assert body["results"][0]["status"] == "created"
    assert [w["rule"] for w in body["results"][0]["warnings"]] == ["FIN-W004"]


async def test_a_guarantors_warnings_never_tell_whether_a_bank_holds_a_loan_ref(client_for, as_):
    """A guarantor sees no loans, so naming a loan ref teaches it nothing: a ref bank A holds, one
    bank B holds and one nobody holds get the same answer, at either bank."""
    c, admin = client_for("finance"), as_("admin")
    for code in ("BA", "BB"):
        r = await c.post(
            "/v1/institutions",
            json={"code": code, "name": f"银行{code}", "kind": "bank", "region_code": "330000"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    for code, ref in (("BA", "L-AT-A"), ("BB", "L-AT-B")):
        r = await c.post(
            "/v1/loans/batch", json={"records": [loan(loan_ref=ref)]}, headers=as_("bank", org=code)
        )
        assert r.json()["results"][0]["status"] == "created"
    probes = [
        guarantee(new_credit_code(), lender_code=bank, loan_ref=ref)
        for bank in ("BA", "BB")
        for ref in ("L-AT-A", "L-AT-B", "L-AT-NOBODY")
    ]
    body = (
        await c.post("/v1/guarantees/batch", json={"records": probes}, headers=as_("guarantor", org="G001"))
    ).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 6
    assert [r["warnings"] for r in body["results"]] == [[]] * 6
    rules = (await c.get("/v1/rules", headers=as_("guarantor", org="G001"))).json()
    assert "FIN-W005" not in {r["id"] for r in rules["rules"]}  # retired, never reused


async def test_application_decision_needs_its_date(client_for, as_):
    from tests.finance.helpers import application

    body = (
        await client_for("finance").post(
            "/v1/applications/batch",
            json={"records": [application(new_credit_code(), decided_on=None)]},
            headers=as_("bank", org="B001"),
        )
    ).json()
    assert body["results"][0]["errors"][0]["rule"] == "FIN-V015"


async def test_rules_are_listed_with_the_version(client_for, as_):
    body = (await client_for("finance").get("/v1/rules", headers=as_("bank", org="B001"))).json()
    ids = {r["id"] for r in body["rules"]}
    assert {f"FIN-V{n:03d}" for n in range(1, 17)} <= ids and "FIN-W001" in ids
    assert body["version"]
