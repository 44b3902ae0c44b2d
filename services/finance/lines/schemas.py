"""Credit lines (授信) as banks post them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.common.batch import batch_request
from services.common.types import CreditCode
from services.finance.fields import Amount, MoneyOut, Ref

LineStatus = Literal["active", "closed"]


class CreditLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_ref: Ref
    borrower_credit_code: CreditCode
    amount: Amount
    granted_on: date
    expires_on: date
    status: LineStatus
    closed_on: date | None = None


CreditLineBatchRequest = batch_request(
    "CreditLineBatchRequest",
    CreditLineIn,
    {
        "line_ref": "CL-2022-0007",
        "borrower_credit_code": "91330106MA27XK3L4D",
        "amount": "5000000.00",
        "granted_on": "2022-01-01",
        "expires_on": "2024-12-31",
        "status": "active",
    },
)


class CreditLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    lender: str
    line_ref: str
    borrower_credit_code: str
    amount: MoneyOut
    granted_on: date
    expires_on: date
    status: LineStatus
    closed_on: date | None
    borrower_region: str
    rule_set_version: str
    created_at: datetime
    updated_at: datetime
