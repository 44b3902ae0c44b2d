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
