"""Statistics on a crafted data set; every expected number is computed by hand in the comments."""

import pytest

from tests.finance.helpers import application, guarantee, loan
from tests.registry_data import add_enterprise


async def post(c, path, headers, records):
    r = await c.post(path, json={"records": records}, headers=headers)
    assert r.status_code == 200 and r.json()["summary"]["rejected"] == 0, r.text
    return r.json()


@pytest.fixture
async def dataset(client_for, as_, db):
    c = client_for("finance")
    s1, s2, s3 = [await add_enterprise(db, sizes={2021: "small", 2022: "small"}) for _ in range(3)]
    m1 = await add_enterprise(db, region_code="330212", sizes={2021: "medium", 2022: "medium"})
    closed = {"status": "repaid", "closed_on": "2022-06-01", "outstanding_balance": "0.00"}
    await post(c, "/v1/loans/batch", as_("bank", org="B1"), [
        loan(borrower=s1, issued_on="2021-05-01", amount="1000000.00", outstanding_balance="600000.00"),
        loan(borrower=s2, issued_on="2021-03-01", amount="500000.00", **closed),
        loan(borrower=s3, issued_on="2022-04-01", amount="2000000.00", outstanding_balance="2000000.00",
             annual_rate="5.00", is_first_loan=True),
        loan(borrower=m1, issued_on="2022-02-01", amount="3000000.00", outstanding_balance="3000000.00",
             annual_rate="4.00", borrower_size="small"),
        loan(borrower=m1, issued_on="2021-01-10", amount="4000000.00", outstanding_balance="1000000.00",
             borrower_size="small"),
    ])  # fmt: skip
    await post(c, "/v1/loans/batch", as_("bank", org="B2"), [
        loan(borrower=s1, issued_on="2021-06-01", amount="1000000.00", outstanding_balance="1000000.00"),
        loan(borrower=s2, issued_on="2022-05-01", amount="1000000.00", outstanding_balance="1000000.00",
             annual_rate="3.00"),
        loan(borrower=m1, issued_on="2021-02-01", amount="2000000.00", outstanding_balance="2000000.00"),
    ])  # fmt: skip
    await post(c, "/v1/applications/batch", as_("bank", org="B1"), [
        application(s1, applied_on="2022-01-05", decided_on="2022-01-20"),
        application(s2, applied_on="2022-03-01", decision="rejected", decided_on="2022-03-10"),
        application(s2, applied_on="2022-04-01", decided_on="2022-04-15"),
        application(s3, applied_on="2022-11-01", decision="pending", decided_on=None),
        application(m1, applied_on="2021-12-01", decided_on="2021-12-20"),
    ])  # fmt: skip
    # B1's whole book (各项贷款) at the base and the end date; B2 reports none
    await post(c, "/v1/loan-book-reports/batch", as_("bank", org="B1"), [
        {"period_end": "2021-12-31", "all_loans_balance": "110000000.00", "all_loans_borrowers": 50},
        {"period_end": "2022-12-31", "all_loans_balance": "200000000.00", "all_loans_borrowers": 60},
    ])  # fmt: skip
    admin = as_("admin")
    r = await c.post("/v1/institutions", json={"code": "G1", "name": "浙江省担保集团", "kind": "guarantor",
                                               "region_code": "330000", "net_assets": "1000000.00"}, headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text
    await post(c, "/v1/guarantees/batch", as_("guarantor", org="G1"), [
        guarantee(s1, lender_code="B1", guaranteed_amount="2000000.00", outstanding_amount="2000000.00",
                  fee_rate="1.00", starts_on="2022-03-01"),
        guarantee(s2, lender_code="B1", guaranteed_amount="1000000.00", outstanding_amount="1000000.00",
                  fee_rate="2.00", starts_on="2022-05-01"),
        guarantee(s3, lender_code="B2", starts_on="2021-01-01", ends_on="2023-01-01", outstanding_amount="0.00",
                  status="compensated", compensated_on="2022-06-01", compensated_amount="400000.00",
                  recovered_amount="100000.00"),
        guarantee(m1, lender_code="B2", starts_on="2021-01-01", ends_on="2023-01-01", outstanding_amount="0.00",
                  status="released", released_on="2022-02-01"),
    ])  # fmt: skip
    return {"s1": s1, "s2": s2, "s3": s3, "m1": m1}


async def test_province_figures_two_increases_and_approval_rate(client_for, as_, dataset):
    r = await client_for("finance").get("/v1/stats", params={"year": 2022}, headers=as_("admin"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["period"] == {"from": "2022-01-01", "to": "2022-12-31", "base": "same_period_last_year",
                           "base_date": "2021-12-31"}  # fmt: skip
    t = s["totals"]
    # new in 2022: B1 3M (m1, medium by registry) + 2M (s3) and B2 1M (s2)
    assert t["new_loans"] == {
        "all": {"count": 3, "amount": "6000000.00"},
        "small_micro": {"count": 2, "amount": "3000000.00"},
        "inclusive": {"count": 2, "amount": "3000000.00"},
    }
    # end 2022-12-31: B1 0.6+0+2+3+1 = 6.6M, B2 1+1+2 = 4M; base 2021-12-31: B1 0.6+0.5(closed later: amount)+1, B2 1+2
    assert t["balances"]["all"] == {"end": "10600000.00", "base": "5100000.00", "growth_rate": "107.84"}
    assert t["balances"]["inclusive"] == {"end": "4600000.00", "base": "2100000.00", "growth_rate": "119.05"}
    assert t["inclusive_borrowers"] == {"end": 3, "base": 2}  # {s1,s3,s2} vs {s1,s2}
    assert t["first_time_borrowers"] == 1
    assert t["inclusive_new_loans_avg_rate"] == "4.33"  # (2M×5 + 1M×3) / 3M
    two = {x["lender"]: x for x in s["two_increases"]}
    # B1: inclusive 1.1M → 2.6M (+136.36 %) vs its whole book 110M → 200M (+81.82 %): above;
    # inclusive borrowers 2 → 2: not above the base (高于 is strict), so B1 does not pass
    assert two["B1"] == {"lender": "B1", "inclusive_balance_end": "2600000.00", "inclusive_balance_base": "1100000.00",
                         "inclusive_balance_growth_rate": "136.36", "loan_book_balance_end": "200000000.00",
                         "loan_book_balance_base": "110000000.00", "loan_book_growth_rate": "81.82",
                         "loan_book_borrowers_end": 60, "loan_book_borrowers_base": 50, "balance_growth_ok": True,
                         "inclusive_borrowers_end": 2, "inclusive_borrowers_base": 2, "borrowers_ok": False,
                         "passed": False, "reason": None}  # fmt: skip
    # B2: inclusive 1M → 2M, borrowers 1 → 2, but no whole-book report: not assessed
    assert (two["B2"]["passed"], two["B2"]["reason"], two["B2"]["balance_growth_ok"]) == (
        None, "no_loan_book_report", None)  # fmt: skip
    assert two["B2"]["inclusive_balance_growth_rate"] == "100.00" and two["B2"]["borrowers_ok"] is True
    # the bulletin's figure: 0 passing of 1 assessed (B2 is listed, not assessed)
    fig = s["targets"]["two_increases"]
    assert (fig["value"], fig["lenders_listed"], fig["lenders_assessed"], fig["lenders_passing"]) == (
        "0.00",
        2,
        1,
        0,
    )
    assert fig["unit"] == "percent" and fig["settled"] is False
    # 申贷获得率: applied in 2022 {s1, s2, s3}; approved {s1, s2} (s2 counted once)
    assert s["applications"] == {
        "applied_enterprises": 3,
        "obtained_enterprises": 2,
        "approval_rate": "66.67",
        "sizes": ["small", "micro"],
        "other_sizes_applied": 0,
    }
    g = s["guarantees"]
    assert (g["new_count"], g["new_guaranteed_amount"], g["avg_fee_rate"]) == (2, "3000000.00", "1.33")
    assert g["in_force_balance"] == "3000000.00" and g["released_amount"] == "2000000.00"
    assert (g["compensation_rate"], g["recovery_rate"]) == ("20.00", "25.00")
    assert g["leverage"] == [{"guarantor": "G1", "in_force_balance": "3000000.00", "net_assets": "1000000.00",
                              "leverage": "3.00", "cap": "10", "within_cap": True}]  # fmt: skip
    smb = s["targets"]["smb_new_loans"]
    # small/micro balance 2019-12-31: 0 (nothing issued before 2021); 2022-12-31: B1 s1 0.6 + s3 2
    # (s2 repaid) and B2 s1 1 + s2 1 = 4.6M (m1 is medium by the registry) → new lending 4.6M;
    # gross issuance 2020–2022 beside it: 1 + 0.5 + 2 (B1) + 1 + 1 (B2) = 5.5M
    assert smb["value"] == "4600000.00" and smb["unit"] == "yuan" and smb["target"] == "500000000000.00"
    assert (smb["balance_at_start"], smb["balance_at_end"], smb["gross_issuance"]) == (
        "0.00", "4600000.00", "5500000.00")  # fmt: skip
    assert smb["settled"] is False and (smb["window_start"], smb["window_end"]) == (
        "2020-01-01",
        "2022-12-31",
    )


async def test_a_bank_gets_only_its_own_figures(client_for, as_, dataset):
    c = client_for("finance")
    s = (await c.get("/v1/stats", params={"year": 2022}, headers=as_("bank", org="B1"))).json()
    assert [x["lender"] for x in s["two_increases"]] == ["B1"]
    assert s["totals"]["balances"]["all"]["end"] == "6600000.00"
    assert (
        await c.get("/v1/stats", params={"lender": "B2"}, headers=as_("bank", org="B1"))
    ).status_code == 404


async def test_group_by_city_and_official_scope(client_for, as_, dataset):
    c = client_for("finance")
    s = (await c.get("/v1/stats", params={"year": 2022, "group_by": "city"}, headers=as_("admin"))).json()
    by = {g["key"]: g for g in s["groups"]}
    assert set(by) == {"330100", "330200"}
    assert by["330200"]["new_loans"]["all"] == {"count": 1, "amount": "3000000.00"}
    nb = (await c.get("/v1/stats", params={"year": 2022}, headers=as_("official", region="330200"))).json()
    assert nb["totals"]["new_loans"]["all"]["amount"] == "3000000.00"
    out = await c.get("/v1/stats", params={"region": "330100"}, headers=as_("official", region="330200"))
    assert out.status_code == 403


async def test_start_of_period_base_and_months(client_for, as_, dataset):
    c = client_for("finance")
    params = {"from": "2022-01-01", "to": "2022-06-30", "base": "start_of_period", "group_by": "month"}
    s = (await c.get("/v1/stats", params=params, headers=as_("admin"))).json()
    assert s["period"]["base_date"] == "2021-12-31"
    assert [g["key"] for g in s["groups"]] == [f"2022-0{m}" for m in range(1, 7)]
    feb = s["groups"][1]
    assert feb["new_loans"]["all"]["amount"] == "3000000.00"
    r = await c.get("/v1/stats", params={"from": "2022-06-01", "to": "2022-01-01"}, headers=as_("admin"))
    assert r.status_code == 422


async def test_financing_summary_is_scoped(client_for, as_, dataset):
    c = client_for("finance")
    s1 = dataset["s1"]
    admin = (await c.get(f"/v1/enterprises/{s1}/financing-summary", headers=as_("admin"))).json()
    assert admin["loans_count"] == 2 and admin["loans_amount"] == "2000000.00"
    assert admin["outstanding_balance"] == "1600000.00" and admin["inclusive_share"] == "100.00"
    assert admin["guarantees_count"] == 1 and admin["guaranteed_amount"] == "2000000.00"
    b2 = (await c.get(f"/v1/enterprises/{s1}/financing-summary", headers=as_("bank", org="B2"))).json()
    assert b2["loans_count"] == 1 and b2["guarantees_count"] == 0
    r = await c.get(f"/v1/enterprises/{s1}/financing-summary", headers=as_("official", region="330200"))
    assert r.status_code == 404


async def test_the_statistics_statements_are_not_counted_against_the_callers_read_share(database_url):
    """The statistics run their statements side by side on the read pool, outside the caller's
    share (`Reads`, not `CallerReads`): a bank whose share is all taken still gets its figures.
    The list and search routes of the registry count every statement against the share."""
    import asyncio

    import httpx

    from services.common import readpool
    from services.common.auth import Principal, principal_headers
    from services.common.settings import DatabaseSettings, get_settings
    from services.finance.app import create_app

    settings = get_settings().model_copy(
        update={"db": DatabaseSettings(read_pool_size=8, read_pool_per_caller=1)}
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://finance.test", timeout=30) as c:
            bank = readpool.caller_key(Principal(sub="stats-bank", kind="bank", org="B001"))
            async with readpool.pools_of(app).connection(caller=bank):  # the bank's one share is taken
                r = await asyncio.wait_for(
                    c.get("/v1/stats", params={"year": 2024}, headers=principal_headers("bank", org="B001")),
                    20,
                )
            assert r.status_code == 200, r.text
    finally:
        await readpool.close_read_pool(app)
        await app.state.engine.dispose()
