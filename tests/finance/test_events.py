"""The finance change feed: every event type from real writes through the API, its data, and
who sees it (the lists' scope: bank B never sees bank A's loans)."""

from __future__ import annotations

from itertools import product

import pytest

from services.common.auth import Principal
from services.common.events import EVENT_TYPES, catalogue
from services.finance.scope import sees
from tests.finance.helpers import application, guarantee, line, loan
from tests.registry_data import add_enterprise, new_credit_code
from tests.support import feed_events


@pytest.fixture
def c(client_for):
    return client_for("finance")


async def post(c, path, headers, records):
    r = await c.post(path, json={"records": records}, headers=headers)
    assert r.status_code == 200, r.text
    assert all(x["status"] != "rejected" for x in r.json()["results"]), r.text
    return r.json()


async def write_everything(c, as_, db) -> dict:
    """One of each finance write, by bank BA (and its guarantor GA), through the API."""
    bank, guarantor = as_("bank", org="BA"), as_("guarantor", org="GA")
    hz = await add_enterprise(db, region_code="330106", sizes={2022: "small"})
    await post(c, "/v1/loans/batch", bank, [loan(borrower=hz, loan_ref="L1")])
    await post(
        c, "/v1/loans/batch", bank, [loan(borrower=hz, loan_ref="L1", outstanding_balance="400000.00")]
    )
    ln = line(hz, line_ref="CL1", amount="12000000.00")
    await post(c, "/v1/credit-lines/batch", bank, [ln])  # created; reclassifies L1 (over the cap)
    await post(c, "/v1/credit-lines/batch", bank, [dict(ln, amount="13000000.00")])  # L1's basis only
    ap = application(hz, application_ref="A1", decision="pending", decided_on=None)
    await post(c, "/v1/applications/batch", bank, [ap])
    await post(c, "/v1/applications/batch", bank, [dict(ap, decision="approved", decided_on="2022-02-10")])
    g = guarantee(hz, guarantee_ref="G1", lender_code="BA", loan_ref="L1")
    await post(c, "/v1/guarantees/batch", guarantor, [g])
    await post(c, "/v1/guarantees/batch", guarantor, [dict(g, outstanding_amount="500000.00")])
    # a loan whose own change moves its flag: no longer small
    await post(c, "/v1/loans/batch", bank, [loan(borrower=new_credit_code("330106"), loan_ref="L2")])
    await post(
        c,
        "/v1/loans/batch",
        bank,
        [loan(borrower=new_credit_code("330106"), loan_ref="L2", borrower_size="large")],
    )
    return {"bank": bank, "guarantor": guarantor, "hz": hz}


async def test_every_finance_event_type_comes_from_a_real_write(c, as_, db):
    await write_everything(c, as_, db)
    seen = await feed_events(c, as_("admin"))
    # submission.completed comes from a real submission: tests/common/test_submissions_kit.py
    assert {e["type"] for e in seen} == EVENT_TYPES["finance"] - {"submission.completed"}
    by: dict = {}
    for e in seen:  # the first of each type and subject
        by.setdefault((e["type"], e["subject"]["key"]), e)

    created = by["loan.created", "BA/L1"]
    assert created["id"].startswith("evt_finance_")
    assert created["subject"] == {"type": "loan", "key": "BA/L1"}
    assert created["links"] == {"self": "/finance/v1/lenders/BA/loans/L1"}
    assert created["data"] == {
        "lender": "BA",
        "loan_ref": "L1",
        "borrower_credit_code": created["data"]["borrower_credit_code"],
        "amount": "1000000.00",
        "issued_on": "2022-03-01",
        "status": "outstanding",
        "inclusive": True,
    }
    updated = by["loan.updated", "BA/L1"]
    assert updated["data"]["changed"] == ["outstanding_balance"]
    assert updated["data"]["outstanding_balance"] == "400000.00"
    recl = by["loan.reclassified", "BA/L1"]["data"]
    assert recl == {
        "lender": "BA",
        "loan_ref": "L1",
        "inclusive": False,
        "previous_inclusive": True,
        "inclusive_reason": "line_total_over_cap",
        "line_total": "12000000.00",
        "cause": "credit_lines",
    }
    own = by["loan.reclassified", "BA/L2"]["data"]
    assert (own["cause"], own["inclusive"], own["inclusive_reason"]) == ("loan", False, "not_small_micro")
    # the second line only moved L1's line total: an update, not a reclassification
    basis = [e for e in seen if e["type"] == "loan.updated" and e["data"]["changed"] == ["line_total"]]
    assert len(basis) == 1 and basis[0]["subject"]["key"] == "BA/L1"
    assert by["credit_line.updated", "BA/CL1"]["data"]["changed"] == ["amount"]
    assert by["credit_line.updated", "BA/CL1"]["data"]["amount"] == "13000000.00"
    assert by["application.updated", "BA/A1"]["data"] == {
        "lender": "BA",
        "application_ref": "A1",
        "changed": ["decision", "decided_on"],
        "decision": "approved",
        "decided_on": "2022-02-10",
    }
    g = by["guarantee.created", "GA/G1"]
    assert g["data"]["fee_rate"] == "1" and g["data"]["guaranteed_amount"] == "1000000.00"
    assert g["links"]["list"].startswith("/finance/v1/guarantees?borrower=")
    assert by["guarantee.updated", "GA/G1"]["data"]["changed"] == ["outstanding_amount"]
    # data is a whitelist: no other bank's fields, no raw rows
    for e in seen:
        assert "before" not in e["data"] and "after" not in e["data"] and "id" not in e["data"]
    # commit order, each event once
    assert len({e["id"] for e in seen}) == len(seen)
    seqs = [int(e["id"].rsplit("_", 1)[1]) for e in seen]
    assert seqs == sorted(seqs)


async def test_bank_b_never_sees_bank_a_events(c, as_, db):
    await write_everything(c, as_, db)
    await post(c, "/v1/loans/batch", as_("bank", org="BB"), [loan(loan_ref="L1")])
    mine = await feed_events(c, as_("bank", org="BB"))
    assert [(e["type"], e["subject"]["key"]) for e in mine] == [("loan.created", "BB/L1")]
    # a bank whose org code is a prefix of another's sees none of the other's
    assert await feed_events(c, as_("bank", org="B")) == []
    a = await feed_events(c, as_("bank", org="BA"))
    assert {e["subject"]["key"].split("/")[0] for e in a} == {"BA", "GA"}  # its own, and G1 names it
    assert {e["type"] for e in a if e["subject"]["type"] == "guarantee"} == {
        "guarantee.created",
        "guarantee.updated",
    }
    # the guarantor sees its guarantees only; a certifier nothing
    g = await feed_events(c, as_("guarantor", org="GA"))
    assert {e["subject"]["type"] for e in g} == {"guarantee"}
    assert await feed_events(c, as_("guarantor", org="GB")) == []
    assert await feed_events(c, as_("certifier", org="BA")) == []


async def test_an_official_sees_the_borrowers_of_its_region(c, as_, db):
    await write_everything(c, as_, db)
    nb = new_credit_code("330212")
    await post(c, "/v1/loans/batch", as_("bank", org="BB"), [loan(borrower=nb, loan_ref="NB")])
    hangzhou = await feed_events(c, as_("official", region="330100"))
    assert "BB/NB" not in {e["subject"]["key"] for e in hangzhou}
    assert {e["subject"]["type"] for e in hangzhou} == {"loan", "credit_line", "application", "guarantee"}
    ningbo = await feed_events(c, as_("official", region="330200"))
    assert [e["subject"]["key"] for e in ningbo] == ["BB/NB"]
    xihu = await feed_events(c, as_("official", region="330106"))
    assert len(xihu) == len(hangzhou)
    assert await feed_events(c, as_("official", region="330102")) == []  # 上城区: none of these


async def test_a_guarantee_moved_to_another_bank_is_that_banks_now(c, as_, db):
    """Scope is the record's as it is stored now, like the lists: once guarantee G1 names bank BC,
    BA sees none of its events and BC all of them."""
    data = await write_everything(c, as_, db)
    g = guarantee(
        data["hz"], guarantee_ref="G1", lender_code="BC", loan_ref="L1", outstanding_amount="500000.00"
    )
    await post(c, "/v1/guarantees/batch", data["guarantor"], [g])
    listed = (await c.get("/v1/guarantees", headers=as_("bank", org="BA"))).json()["items"]
    assert listed == []
    assert [
        e for e in await feed_events(c, as_("bank", org="BA")) if e["subject"]["type"] == "guarantee"
    ] == []
    bc = await feed_events(c, as_("bank", org="BC"))
    assert [e["type"] for e in bc] == ["guarantee.created", "guarantee.updated", "guarantee.updated"]
    assert bc[-1]["data"]["changed"] == ["lender_code"]


async def test_types_filter_the_feed(c, as_, db):
    await write_everything(c, as_, db)
    only = await feed_events(c, as_("admin"), types="loan.reclassified,guarantee.created")
    assert sorted(e["type"] for e in only) == ["guarantee.created", "loan.reclassified", "loan.reclassified"]
    repeated = await feed_events(c, as_("admin"), types=["loan.reclassified", "guarantee.created"])
    assert repeated == only
    r = await c.get("/v1/events", params={"types": "loan.created,loan.deleted"}, headers=as_("admin"))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "unknown_event_type"
    assert problem["errors"][0]["pointer"] == "#/query/types"
    assert "'loan.deleted'" in problem["detail"]
    r = await c.get("/v1/events", params={"types": "certificate.created"}, headers=as_("admin"))
    assert r.status_code == 422  # another feed's type


async def test_the_python_scope_is_the_lists_scope(db):
    """`sees` (the feed) and `visible` (the lists' SQL) give one answer for every caller and record."""
    from sqlalchemy import column, select, table
    from sqlalchemy.dialects import postgresql

    from services.finance.scope import visible

    t = table("t", column("i"), column("region"), column("bank"), column("guarantor"))
    callers = [
        Principal("a", "admin"),
        Principal("b", "bank", org="BA"),
        Principal("b", "bank"),
        Principal("g", "guarantor", org="GA"),
        Principal("o", "official", region="330100"),
        Principal("o", "official", region="330106"),
        Principal("c", "certifier", org="BA"),
    ]
    records = list(product(["330106", "330212", None], ["BA", "BB", None], ["GA", None]))
    values = ", ".join(
        "(" + ", ".join([str(i), *("NULL" if v is None else f"'{v}'" for v in r)]) + ")"
        for i, r in enumerate(records)
    )
    for p in callers:
        for with_bank, with_guarantor in product([True, False], [True, False]):
            cond = visible(
                p,
                region_col=t.c.region,
                bank_col=t.c.bank if with_bank else None,
                guarantor_col=t.c.guarantor if with_guarantor else None,
            )
            where = (
                select(t.c.i)
                .where(cond)
                .whereclause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            )
            rows = await db.fetch(
                f"SELECT i FROM (VALUES {values}) AS t(i, region, bank, guarantor) WHERE {where}"
            )
            by_python = {
                i
                for i, (region, bank, guarantor) in enumerate(records)
                if sees(
                    p,
                    region=region,
                    bank=bank if with_bank else None,
                    guarantor=guarantor if with_guarantor else None,
                )
            }
            assert {r["i"] for r in rows} == by_python, (p, with_bank, with_guarantor)


def test_every_finance_change_shape_is_an_event_or_ignored_for_a_reason():
    cat = catalogue("finance")
    written = {
        ("loan", "created"), ("loan", "updated"), ("loan", "reclassified"),
        ("credit_line", "created"), ("credit_line", "updated"),
        ("loan_application", "created"), ("loan_application", "updated"),
        ("guarantee", "created"), ("guarantee", "updated"), ("institution", "created"),
    }  # fmt: skip
    written.add(("submission", "completed"))  # a file submission's end (services/common/submissions)
    assert written == set(cat.sources) | set(cat.ignored)
    assert not set(cat.sources) & set(cat.ignored)
