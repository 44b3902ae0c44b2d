"""The financing definitions of the programme (docs/finance.md, "Definitions") on crafted data;
every expected number is computed by hand in the comments."""

from services.finance.rules import DEFINITIONS
from tests.finance.helpers import application, line, loan
from tests.registry_data import add_enterprise, new_credit_code

BOOK = "/v1/loan-book-reports/batch"


async def post(c, path, headers, records, params=None):
    r = await c.post(path, json={"records": records}, headers=headers, params=params or {})
    assert r.status_code == 200, r.text
    return r.json()


def book(period_end, balance, borrowers):
    return {"period_end": period_end, "all_loans_balance": balance, "all_loans_borrowers": borrowers}


async def stats(c, as_, **params):
    r = await c.get("/v1/stats", params={"year": 2022, **params}, headers=as_("admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_two_increases_on_ties_and_with_and_without_book_reports(client_for, as_, db):
    c = client_for("finance")
    for bank in ("T1", "T2", "T3"):
        s1, s2 = new_credit_code("330106"), new_credit_code("330106")
        # inclusive 1M at 2021-12-31 → 2M at 2022-12-31 (+100 %); borrowers 1 → 2
        await post(c, "/v1/loans/batch", as_("bank", org=bank), [
            loan(borrower=s1, issued_on="2021-06-01", matures_on="2023-06-01"),
            loan(borrower=s2, issued_on="2022-03-01"),
        ])  # fmt: skip
    # T1: whole book 10M → 20M, +100 %: equal growth is not 高于 → fails
    await post(
        c,
        BOOK,
        as_("bank", org="T1"),
        [book("2021-12-31", "10000000.00", 10), book("2022-12-31", "20000000.00", 12)],
    )
    # T2: 10M → 19,999,999.99 (+99.9999999 %, shown rounded as 100.00): inclusive growth is above → passes
    await post(
        c,
        BOOK,
        as_("bank", org="T2"),
        [book("2021-12-31", "10000000.00", 10), book("2022-12-31", "19999999.99", 12)],
    )
    # T3: only the end date reported → not assessed
    await post(c, BOOK, as_("bank", org="T3"), [book("2022-12-31", "20000000.00", 12)])
    s = await stats(c, as_)
    two = {x["lender"]: x for x in s["two_increases"]}
    assert (two["T1"]["inclusive_balance_growth_rate"], two["T1"]["loan_book_growth_rate"]) == (
        "100.00",
        "100.00",
    )
    assert (two["T1"]["balance_growth_ok"], two["T1"]["borrowers_ok"], two["T1"]["passed"]) == (
        False,
        True,
        False,
    )
    assert two["T2"]["loan_book_growth_rate"] == "100.00"  # rounded for display; compared exactly
    assert (two["T2"]["balance_growth_ok"], two["T2"]["passed"], two["T2"]["reason"]) == (True, True, None)
    assert (two["T3"]["passed"], two["T3"]["reason"], two["T3"]["loan_book_balance_base"]) == (
        None, "no_loan_book_report", None)  # fmt: skip
    # the bulletin's figure: T2 passes of T1, T2 assessed → 1 ÷ 2 = 50.00 %
    fig = s["targets"]["two_increases"]
    assert (fig["value"], fig["lenders_listed"], fig["lenders_assessed"], fig["lenders_passing"]) == (
        "50.00",
        3,
        2,
        1,
    )
    assert fig["settled"] is DEFINITIONS["two_increases"]["settled"]
    # start_of_period base (the day before `from`, 2021-12-31) gives the same dates here
    s2 = await stats(c, as_, base="start_of_period")
    assert s2["targets"]["two_increases"]["value"] == "50.00"


async def test_two_increases_borrowers_tie_fails(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="T4")
    s1 = new_credit_code("330106")
    # one borrower throughout: balance 1M (2021) → 3M (2022), +200 % > book +10 %; borrowers 1 → 1
    await post(c, "/v1/loans/batch", bank, [
        loan(borrower=s1, issued_on="2021-06-01", matures_on="2023-06-01"),
        loan(borrower=s1, issued_on="2022-03-01", amount="2000000.00", outstanding_balance="2000000.00"),
    ])  # fmt: skip
    await post(c, BOOK, bank, [book("2021-12-31", "100.00", 1), book("2022-12-31", "110.00", 1)])
    t = (await stats(c, as_))["two_increases"][0]
    assert (t["balance_growth_ok"], t["borrowers_ok"], t["passed"]) == (True, False, False)


async def test_bank_a_cannot_read_or_overwrite_bank_b_loan_book_reports(client_for, as_, db):
    c = client_for("finance")
    a, b = as_("bank", org="BA"), as_("bank", org="BB")
    await post(c, BOOK, b, [book("2022-12-31", "500000000.00", 300)])
    assert (await c.get("/v1/loan-book-reports", headers=a)).json()["items"] == []
    assert (await c.get("/v1/loan-book-reports", params={"lender": "BB"}, headers=a)).json()["items"] == []
    # A posting the same period_end writes its own book; B's stays
    r = await post(c, BOOK, a, [book("2022-12-31", "1.00", 1)])
    assert r["results"][0]["status"] == "created"
    rows = await db.fetch("SELECT lender, all_loans_balance FROM finance.loan_book_reports ORDER BY lender")
    assert [(x["lender"], str(x["all_loans_balance"])) for x in rows] == [
        ("BA", "1.00"),
        ("BB", "500000000.00"),
    ]
    own = (await c.get("/v1/loan-book-reports", headers=b)).json()["items"]
    assert [(x["lender"], x["all_loans_balance"], x["all_loans_borrowers"]) for x in own] == [
        ("BB", "500000000.00", 300)
    ]
    # a field naming the lender is refused, not obeyed
    r = await post(c, BOOK, a, [{**book("2021-12-31", "1.00", 1), "lender": "BB"}])
    assert r["results"][0]["status"] == "rejected" and r["results"][0]["errors"][0]["rule"] == "FIN-V012"
    assert len(await db.fetch("SELECT 1 FROM finance.loan_book_reports WHERE lender = 'BB'")) == 1
    admin = (await c.get("/v1/loan-book-reports", headers=as_("admin"))).json()["items"]
    assert sorted(x["lender"] for x in admin) == ["BA", "BB"]
    assert (await c.get("/v1/loan-book-reports", headers=as_("official", region="330000"))).status_code == 403
    assert (await c.post(BOOK, json={"records": []}, headers=as_("guarantor", org="G1"))).status_code == 403


async def test_loan_book_reports_upsert_and_validation(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    first = await post(c, BOOK, bank, [book("2022-12-31", "100.00", 2)])
    assert first["results"][0] == {
        "index": 0,
        "key": "2022-12-31",
        "status": "created",
        "errors": [],
        "warnings": [],
    }
    assert (await post(c, BOOK, bank, [book("2022-12-31", "100.00", 2)]))["results"][0][
        "status"
    ] == "unchanged"
    assert (await post(c, BOOK, bank, [book("2022-12-31", "150.00", 3)]))["results"][0]["status"] == "updated"
    bad = await post(c, BOOK, bank, [
        book("2022-13-31", "1.00", 1),          # not a date
        book("2021-12-31", "-1.00", 1),         # negative money
        book("2021-12-31", "1.005", 1),         # 3 decimals
        book("2021-12-31", "1.00", "7"),        # a string, not a count
        book("2021-12-31", "100.00", 0),        # a balance nobody owes
        {"period_end": "2021-12-31", "all_loans_balance": "1.00"},
    ], params={"atomic": "true"})  # fmt: skip
    found = [(x["status"], [(e["rule"], e["pointer"]) for e in x["errors"]]) for x in bad["results"]]
    assert found == [
        ("rejected", [("FIN-V011", "/period_end")]),
        ("rejected", [("FIN-V005", "/all_loans_balance")]),
        ("rejected", [("FIN-V005", "/all_loans_balance")]),
        ("rejected", [("FIN-V011", "/all_loans_borrowers")]),
        ("rejected", [("FIN-V018", "/all_loans_borrowers")]),
        ("rejected", [("FIN-V002", "/all_loans_borrowers")]),
    ]
    assert bad["committed"] is False
    rows = await db.fetch("SELECT period_end::text, all_loans_borrowers FROM finance.loan_book_reports")
    assert [tuple(r) for r in rows] == [("2022-12-31", 3)]
    changes = await db.fetch(
        "SELECT action FROM finance.changes WHERE entity_type = 'loan_book_report' ORDER BY seq"
    )
    assert [r["action"] for r in changes] == ["created", "updated"]


async def test_smb_new_loans_is_balance_growth_with_renewals_present(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2019: "small", 2020: "small", 2021: "small", 2022: "small"})
    s2 = new_credit_code("330106")  # unknown to the registry: the bank's size (micro) counts
    m = await add_enterprise(db, sizes={2021: "medium"})
    repaid = {"status": "repaid", "outstanding_balance": "0.00"}
    await post(c, "/v1/loans/batch", bank, [
        # 4M issued 2019, renewed without repayment in 2020 and again in 2021 (3.5M still owed)
        loan(borrower=s, issued_on="2019-06-01", matures_on="2020-06-01", amount="4000000.00", closed_on="2020-06-01", **repaid),
        loan(borrower=s, issued_on="2020-06-01", matures_on="2021-06-01", amount="4000000.00", closed_on="2021-06-01",
             renewal_type="renewal_without_repayment", **repaid),
        loan(borrower=s, issued_on="2021-06-01", matures_on="2023-06-01", amount="4000000.00", outstanding_balance="3500000.00",
             renewal_type="renewal_without_repayment"),
        loan(borrower=s2, borrower_size="micro", issued_on="2022-02-01", amount="1000000.00"),
        loan(borrower=m, borrower_size="small", issued_on="2021-02-01", amount="5000000.00"),  # medium: not counted
    ])  # fmt: skip
    smb = (await stats(c, as_))["targets"]["smb_new_loans"]
    # balance 2019-12-31: the 2019 loan, repaid later, counts its amount: 4M
    # balance 2022-12-31: 3.5M (the 2021 renewal) + 1M (s2) = 4.5M → new lending 4.5 − 4 = 0.5M
    # gross issuance 2020–2022: 4M + 4M + 1M = 9M (renewals counted again: shown beside only)
    assert (smb["balance_at_start"], smb["balance_at_end"], smb["value"], smb["gross_issuance"]) == (
        "4000000.00", "4500000.00", "500000.00", "9000000.00")  # fmt: skip
    assert smb["progress_percent"] == "0.00" and smb["years"] == [2020, 2021, 2022]
    # the window is the target row's: move it and the figure follows
    row = "programme = 'chuying-2022' AND year = 2022 AND region_code = '330000' AND key = 'smb_new_loans'"
    start = await db.fetchval(f"SELECT window_start FROM registry.programme_targets WHERE {row}")
    await db.execute(f"UPDATE registry.programme_targets SET window_start = '2021-01-01' WHERE {row}")
    try:
        smb = (await stats(c, as_))["targets"]["smb_new_loans"]
    finally:  # the targets table is shared data: put the row back
        await db.execute(f"UPDATE registry.programme_targets SET window_start = $1 WHERE {row}", start)
    # 2020-12-31: the 2020 renewal 4M (repaid later) → 4.5 − 4 = 0.5M; gross 2021–2022: 4 + 1 = 5M
    assert (smb["balance_at_start"], smb["value"], smb["gross_issuance"]) == (
        "4000000.00",
        "500000.00",
        "5000000.00",
    )
    assert smb["window_start"] == "2021-01-01"


async def test_approval_rate_counts_small_and_micro_applicants_only(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s1 = await add_enterprise(db, sizes={2022: "small"})
    s2 = await add_enterprise(db, sizes={2022: "micro"})
    m1 = await add_enterprise(db, sizes={2022: "medium"})
    b1, u1 = new_credit_code("330106"), new_credit_code("330106")
    await post(c, "/v1/applications/batch", bank, [
        application(s1),                                               # small, approved
        application(s2, decision="rejected", decided_on="2022-02-10"),  # micro, rejected
        application(m1, borrower_size="small"),                        # registry medium wins: not counted
        application(b1, borrower_size="micro"),                        # unknown to the registry: bank's micro
        application(u1),                                               # no size known: not counted
    ])  # fmt: skip
    a = (await stats(c, as_))["applications"]
    # small/micro applicants {s1, s2, b1}, of which approved {s1, b1}: 2 ÷ 3 = 66.67 %
    assert a == {"applied_enterprises": 3, "obtained_enterprises": 2, "approval_rate": "66.67",
                 "sizes": ["small", "micro"], "other_sizes_applied": 2}  # fmt: skip
    listed = {
        x["borrower_credit_code"]: x for x in (await c.get("/v1/applications", headers=bank)).json()["items"]
    }
    assert (listed[m1]["size_class"], listed[m1]["size_source"]) == ("medium", "registry")
    assert (listed[b1]["size_class"], listed[b1]["size_source"]) == ("micro", "bank")
    assert (listed[u1]["size_class"], listed[u1]["size_source"]) == (None, None)


async def flags(c, bank):
    items = (await c.get("/v1/loans", headers=bank)).json()["items"]
    return {i["loan_ref"]: (i["inclusive"], i["inclusive_reason"], i["loans_total"]) for i in items}


async def test_inclusive_cap_counts_the_customers_lineless_loans_not_the_single_loan(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    s = await add_enterprise(db, sizes={2021: "small", 2022: "small"})
    repaid = {"status": "repaid", "outstanding_balance": "0.00"}
    await post(c, "/v1/loans/batch", bank, [
        # 4M (2021, repaid 2022-02-01), 4M (2022-01-10), 3M (2022-03-01), 2.5M (2022-06-01); no line
        loan(borrower=s, loan_ref="A", issued_on="2021-06-01", amount="4000000.00", closed_on="2022-02-01", **repaid),
        loan(borrower=s, loan_ref="B", issued_on="2022-01-10", amount="4000000.00", outstanding_balance="4000000.00"),
        loan(borrower=s, loan_ref="C", issued_on="2022-03-01", amount="3000000.00", outstanding_balance="3000000.00"),
    ])  # fmt: skip
    # A: 4M alone on 2021-06-01; B: 4 + A 4 (open until 2022-02-01) = 8M; C: 3 + B 4 (A repaid) = 7M
    assert await flags(c, bank) == {
        "A": (True, "no_line_loans_total_within_cap", "4000000.00"),
        "B": (True, "no_line_loans_total_within_cap", "8000000.00"),
        "C": (True, "no_line_loans_total_within_cap", "7000000.00"),
    }
    # D 3.5M on 2022-06-01: 3.5 + B 4 + C 3 = 10.5M > 10M — every loan below the cap on its own
    await post(c, "/v1/loans/batch", bank, [
        loan(borrower=s, loan_ref="D", issued_on="2022-06-01", amount="3500000.00", outstanding_balance="3500000.00"),
    ])  # fmt: skip
    got = await flags(c, bank)
    assert got["D"] == (False, "no_line_loans_total_over_cap", "10500000.00")
    # B and C were issued before D: their totals on their own issue dates do not change
    assert got["B"][2] == "8000000.00" and got["C"][2] == "7000000.00"
    # another bank's loans to the same customer are not this bank's credit
    other = as_("bank", org="B2")
    await post(c, "/v1/loans/batch", other, [loan(borrower=s, loan_ref="X", amount="9000000.00",
                                                  outstanding_balance="9000000.00", issued_on="2022-06-02")])  # fmt: skip
    assert (await flags(c, other))["X"] == (True, "no_line_loans_total_within_cap", "9000000.00")
    # a loan posted later but issued earlier moves the totals of the loans issued after it, in the
    # same request (logged as reclassified): E 1M on 2022-02-15 → C: 3 + B 4 + E 1 = 8M;
    # D: 3.5 + 4 + 3 + 1 = 11.5M; E itself: 1 + B 4 = 5M
    await post(c, "/v1/loans/batch", bank, [
        loan(borrower=s, loan_ref="E", issued_on="2022-02-15", amount="1000000.00", outstanding_balance="1000000.00"),
    ])  # fmt: skip
    got = await flags(c, bank)
    assert (got["E"][2], got["C"][2], got["D"][2]) == ("5000000.00", "8000000.00", "11500000.00")
    # the change log says so: only E's batch moved loans it did not post (C and D); the loans of
    # one batch are stored with each other's amounts already counted (none was reclassified)
    reclassified = await db.fetch(
        "SELECT entity_key, after->>'loans_total' AS t FROM finance.changes WHERE action = 'reclassified' ORDER BY 1, 2"
    )
    assert [(r["entity_key"], r["t"]) for r in reclassified] == [
        ("B1/C", "8000000.00"), ("B1/D", "11500000.00")
    ]  # fmt: skip


async def test_inclusive_for_an_owner_borrower_and_an_individual_business(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    micro = await add_enterprise(db, sizes={2022: "micro"})
    medium = await add_enterprise(db, sizes={2022: "medium"})
    gtgsh = new_credit_code("330106")  # a 个体工商户's own credit code, unknown to the registry
    await post(c, "/v1/credit-lines/batch", bank, [line(micro, amount="10000000.00")])
    await post(c, "/v1/loans/batch", bank, [
        # the enterprise itself: its line of 10M is within the cap
        loan(borrower=micro, loan_ref="ENT", amount="2000000.00", outstanding_balance="2000000.00"),
        # its owner: a customer of its own (the enterprise's line is not the owner's credit);
        # two owner loans 6M + 5M on one day = 11M > cap
        loan(borrower=micro, loan_ref="OWN1", borrower_kind="business_owner", customer_ref="CUST-0001",
             amount="6000000.00", outstanding_balance="6000000.00"),
        loan(borrower=micro, loan_ref="OWN2", borrower_kind="business_owner", customer_ref="CUST-0001",
             amount="5000000.00", outstanding_balance="5000000.00"),
        # another owner of the same enterprise: 3M alone
        loan(borrower=micro, loan_ref="OWN3", borrower_kind="business_owner", customer_ref="CUST-0002",
             amount="3000000.00", outstanding_balance="3000000.00"),
        # the owner of a medium enterprise is not a 小微企业主
        loan(borrower=medium, loan_ref="OWNM", borrower_kind="business_owner", customer_ref="CUST-0003",
             borrower_size="small"),
        # an individual business is inclusive whatever size the bank wrote
        loan(borrower=gtgsh, loan_ref="IND", borrower_kind="individual_business", borrower_size="medium"),
    ])  # fmt: skip
    assert await flags(c, bank) == {
        "ENT": (True, "line_total_within_cap", "2000000.00"),
        "OWN1": (False, "no_line_loans_total_over_cap", "11000000.00"),
        "OWN2": (False, "no_line_loans_total_over_cap", "11000000.00"),
        "OWN3": (True, "no_line_loans_total_within_cap", "3000000.00"),
        "OWNM": (False, "not_small_micro", "1000000.00"),
        "IND": (True, "no_line_loans_total_within_cap", "1000000.00"),
    }
    own = (await c.get("/v1/loans/OWN3", headers=bank)).json()
    assert (own["borrower_kind"], own["customer_ref"], own["line_total"]) == (
        "business_owner",
        "CUST-0002",
        None,
    )


async def test_owner_loans_need_the_banks_customer_ref_and_never_an_id_number(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    code = new_credit_code("330106")
    body = await post(c, "/v1/loans/batch", bank, [
        loan(borrower=code, borrower_kind="business_owner"),
        loan(borrower=code, customer_ref="CUST-1"),
        loan(borrower=code, borrower_kind="business_owner", customer_ref="11010519491231002X"),
        loan(borrower=code, borrower_kind="sole_trader"),
    ])  # fmt: skip
    found = [[(e["rule"], e["pointer"]) for e in r["errors"]] for r in body["results"]]
    assert found == [
        [("FIN-V019", "/customer_ref")],
        [("FIN-V019", "/customer_ref")],
        [("FIN-V019", "/customer_ref")],
        [("FIN-V003", "/borrower_kind")],
    ]
    assert await db.fetchval("SELECT count(*) FROM finance.loans") == 0


async def test_the_inclusive_rule_in_sql_and_python_agree(db):
    """`inclusive_sql` (stored loans) and `inclusive_of` (generated loans) over every case."""
    from decimal import Decimal

    from services.finance.loans.repository import inclusive_of, inclusive_sql

    cap = Decimal("10000000.00")
    cases = [
        (kind, size, line_total, loans_total)
        for kind in ("enterprise", "individual_business", "business_owner")
        for size in ("large", "medium", "small", "micro")
        for line_total in (None, cap, cap + Decimal("0.01"))
        for loans_total in (cap, cap + Decimal("0.01"))
    ]
    flag, reason = inclusive_sql("$1::text", "$2::text", "$3::numeric", "$4::numeric")
    for case in cases:
        row = await db.fetchrow(f"SELECT {flag} AS f, {reason} AS r", *case)
        assert (row["f"], row["r"]) == inclusive_of(*case), case


async def test_a_loan_book_batch_retried_with_its_idempotency_key_is_replayed(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    headers = {**bank, "Idempotency-Key": "book-2022-run-1"}
    body = {"records": [book("2022-12-31", "100.00", 2)]}
    first = await c.post(BOOK, json=body, headers=headers)
    again = await c.post(BOOK, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    other = await c.post(BOOK, json={"records": [book("2022-12-31", "200.00", 2)]}, headers=headers)
    assert other.status_code == 422 and other.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT all_loans_balance::text FROM finance.loan_book_reports") == "100.00"
