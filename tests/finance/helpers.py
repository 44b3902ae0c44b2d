"""Record builders for the finance tests."""

from __future__ import annotations

import itertools

from tests.registry_data import new_credit_code

_n = itertools.count(1)


def loan(**over) -> dict:
    r = {
        "loan_ref": f"L{next(_n):06d}",
        "borrower_credit_code": over.pop("borrower", None) or new_credit_code("330106"),
        "borrower_name": "杭州测试科技有限公司",
        "borrower_size": "small",
        "product": "credit",
        "amount": "1000000.00",
        "annual_rate": "4.35",
        "issued_on": "2022-03-01",
        "matures_on": "2023-03-01",
        "renewal_type": "new",
        "is_first_loan": False,
        "outstanding_balance": "1000000.00",
        "status": "outstanding",
    }
    r.update(over)
    return r


def line(borrower: str, **over) -> dict:
    r = {
        "line_ref": f"CL{next(_n):06d}",
        "borrower_credit_code": borrower,
        "amount": "5000000.00",
        "granted_on": "2022-01-01",
        "expires_on": "2024-12-31",
        "status": "active",
    }
    r.update(over)
    return r


def application(borrower: str, **over) -> dict:
    r = {
        "application_ref": f"A{next(_n):06d}",
        "borrower_credit_code": borrower,
        "applied_on": "2022-02-01",
        "amount_requested": "500000.00",
        "decision": "approved",
        "decided_on": "2022-02-10",
    }
    r.update(over)
    return r


def guarantee(borrower: str, **over) -> dict:
    r = {
        "guarantee_ref": f"G{next(_n):06d}",
        "borrower_credit_code": borrower,
        "lender_code": "B001",
        "guaranteed_amount": "1000000.00",
        "outstanding_amount": "1000000.00",
        "fee_rate": "1.00",
        "starts_on": "2022-03-01",
        "ends_on": "2023-03-01",
        "status": "active",
    }
    r.update(over)
    return r
