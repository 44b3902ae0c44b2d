"""Who sees which loan, and the inclusive flag around the 10,000,000.00 line cap."""

from tests.finance.helpers import line, loan
from tests.registry_data import add_enterprise, new_credit_code


async def post(c, path, headers, records):
    r = await c.post(path, json={"records": records}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_bank_a_cannot_read_list_or_overwrite_bank_b_loans(client_for, as_, db):
    c = client_for("finance")
    a, b = as_("bank", org="BA"), as_("bank", org="BB")
    rec = loan(loan_ref="SHARED-REF")
    await post(c, "/v1/loans/batch", b, [rec])
    assert (await c.get("/v1/loans/SHARED-REF", headers=a)).status_code == 404
    assert (await c.get("/v1/lenders/BB/loans/SHARED-REF", headers=a)).status_code == 404
    assert (await c.get("/v1/loans", headers=a)).json()["items"] == []
    assert (await c.get("/v1/loans", params={"lender": "BB"}, headers=a)).json()["items"] == []
    # bank A posting the same ref creates its own loan; B's is untouched
    body = await post(c, "/v1/loans/batch", a, [dict(rec, amount="5.00", outstanding_balance="5.00")])
    assert body["results"][0]["status"] == "created"
    rows = await db.fetch("SELECT lender, amount FROM finance.loans ORDER BY lender")
    assert [(r["lender"], str(r["amount"])) for r in rows] == [("BA", "5.00"), ("BB", "1000000.00")]
    own = (await c.get("/v1/loans/SHARED-REF", headers=b)).json()
    assert own["lender"] == "BB" and own["amount"] == "1000000.00"


async def test_officials_read_by_borrower_region_and_admin_reads_all(client_for, as_, db):
    c = client_for("finance")
    hz = await add_enterprise(db, region_code="330106", sizes={2022: "small"})
    nb_unmatched = new_credit_code("330212")
    await post(
        c,
        "/v1/loans/batch",
        as_("bank", org="B1"),
        [loan(borrower=hz, loan_ref="HZ"), loan(borrower=nb_unmatched, loan_ref="NB")],
    )
    hz_official = as_("official", region="330100")
    assert [i["loan_ref"] for i in (await c.get("/v1/loans", headers=hz_official)).json()["items"]] == ["HZ"]
    nb_official = as_("official", region="330200")
    assert [i["loan_ref"] for i in (await c.get("/v1/loans", headers=nb_official)).json()["items"]] == ["NB"]
    assert (await c.get("/v1/lenders/B1/loans/HZ", headers=nb_official)).status_code == 404
    assert (await c.get("/v1/lenders/B1/loans/NB", headers=nb_official)).status_code == 200
    assert len((await c.get("/v1/loans", headers=as_("admin"))).json()["items"]) == 2
    assert (await c.get("/v1/loans", headers=as_("guarantor", org="G1"))).status_code == 403


async def test_list_pagination_is_keyset(client_for, as_):
    c, bank = client_for("finance"), as_("bank", org="B1")
    await post(c, "/v1/loans/batch", bank, [loan() for _ in range(7)])
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await c.get("/v1/loans", params=params, headers=bank)).json()
        seen += [i["loan_ref"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    r = await c.get("/v1/loans", params={"cursor": "bogus"}, headers=bank)
    assert r.status_code == 400


async def test_inclusive_flag_on_both_sides_of_the_line_cap(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    at_cap = await add_enterprise(db, sizes={2022: "small"})
    over_cap = await add_enterprise(db, sizes={2022: "micro"})
    await post(c, "/v1/credit-lines/batch", bank, [
        line(at_cap, amount="6000000.00"), line(at_cap, amount="4000000.00"),
        line(over_cap, amount="10000000.01"),
    ])  # fmt: skip
    await post(c, "/v1/loans/batch", bank, [
        loan(borrower=at_cap, loan_ref="AT"), loan(borrower=over_cap, loan_ref="OVER"),
    ])  # fmt: skip
    at = (await c.get("/v1/loans/AT", headers=bank)).json()
    over = (await c.get("/v1/loans/OVER", headers=bank)).json()
    assert (at["inclusive"], at["inclusive_reason"], at["line_total"]) == (
        True,
        "line_total_within_cap",
        "10000000.00",
    )
    assert (over["inclusive"], over["inclusive_reason"]) == (False, "line_total_over_cap")
    assert at["size_source"] == "registry"


async def test_without_a_line_the_customers_loans_count_and_size_falls_back_to_the_bank(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    medium_in_registry = await add_enterprise(db, sizes={2022: "medium"})
    unknown = new_credit_code()
    await post(c, "/v1/loans/batch", bank, [
        loan(borrower=unknown, loan_ref="N1", amount="10000000.00", outstanding_balance="0.00"),
        loan(borrower=new_credit_code(), loan_ref="N2", amount="10000000.01", outstanding_balance="0.00"),
        loan(borrower=medium_in_registry, loan_ref="M", borrower_size="small"),
        loan(borrower=new_credit_code(), loan_ref="BIG", borrower_size="large"),
    ])  # fmt: skip
    flags = {
        i["loan_ref"]: (i["inclusive"], i["inclusive_reason"], i["size_source"])
        for i in (await c.get("/v1/loans", headers=bank)).json()["items"]
    }
    assert flags == {
        "N1": (True, "no_line_loans_total_within_cap", "bank"),
        "N2": (False, "no_line_loans_total_over_cap", "bank"),
        "M": (False, "not_small_micro", "registry"),
        "BIG": (False, "not_small_micro", "bank"),
    }


async def test_a_credit_line_arriving_later_reclassifies_the_loan(client_for, as_, db):
    c, bank = client_for("finance"), as_("bank", org="B1")
    code = await add_enterprise(db, sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [loan(borrower=code, loan_ref="L")])
    assert (await c.get("/v1/loans/L", headers=bank)).json()["inclusive"] is True
    ln = line(code, amount="12000000.00")
    await post(c, "/v1/credit-lines/batch", bank, [ln])
    after = (await c.get("/v1/loans/L", headers=bank)).json()
    assert (after["inclusive"], after["inclusive_reason"]) == (False, "line_total_over_cap")
    assert await db.fetchval("SELECT count(*) FROM finance.changes WHERE action = 'reclassified'") == 1
    # the line closed before the issue date no longer counts
    await post(c, "/v1/credit-lines/batch", bank, [dict(ln, status="closed", closed_on="2022-02-01")])
    assert (await c.get("/v1/loans/L", headers=bank)).json()["inclusive"] is True


async def test_a_loans_cursor_pages_on_only_for_its_bank_and_its_filters(client_for, as_):
    """Bank A's cursor is A's, for the list it came from: the same caller with the same filters
    gets the next page; other filters or bank B get a 400 `invalid_cursor` — never B's rows."""
    c = client_for("finance")
    a, b = as_("bank", org="BA"), as_("bank", org="BB")
    await post(c, "/v1/loans/batch", a, [loan(product="credit") for _ in range(3)])
    await post(c, "/v1/loans/batch", b, [loan(product="credit") for _ in range(3)])
    first = (await c.get("/v1/loans", params={"limit": 2, "product": "credit"}, headers=a)).json()
    cursor = first["next_cursor"]
    assert cursor
    nxt = await c.get("/v1/loans", params={"limit": 2, "product": "credit", "cursor": cursor}, headers=a)
    assert nxt.status_code == 200
    assert [i["lender"] for i in first["items"] + nxt.json()["items"]] == ["BA"] * 3
    assert nxt.json()["next_cursor"] is None
    for params, headers in [
        ({"product": "mortgage"}, a),  # other filters
        ({}, a),  # the filter left out
        ({"product": "credit", "lender": "BB"}, a),  # a filter added
        ({"product": "credit"}, b),  # bank B
        ({"product": "credit"}, as_("admin")),
        ({"product": "credit"}, as_("bank", org="BA", sub="bank:BA:second-client")),
    ]:
        r = await c.get("/v1/loans", params={**params, "cursor": cursor}, headers=headers)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["code"] == "invalid_cursor"
        assert r.json()["errors"][0]["pointer"] == "#/query/cursor"


async def test_an_officials_loans_cursor_is_refused_to_another_official(client_for, as_):
    c = client_for("finance")
    await post(c, "/v1/loans/batch", as_("bank", org="B1"), [loan() for _ in range(3)])
    mine = as_("official", region="330100", sub="official:zhang")
    first = (await c.get("/v1/loans", params={"limit": 1}, headers=mine)).json()
    assert first["next_cursor"]
    other = as_("official", region="330100", sub="official:li")
    r = await c.get("/v1/loans", params={"limit": 1, "cursor": first["next_cursor"]}, headers=other)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.get("/v1/loans", params={"limit": 1, "cursor": first["next_cursor"]}, headers=mine)
    assert r.status_code == 200 and r.json()["items"] != first["items"]
