"""Loan applications (申贷) as banks post them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.batch import batch_request
from services.common.types import CreditCode
from services.finance.fields import Amount, MoneyOut, Ref
from services.finance.loans.schemas import Size

Decision = Literal["pending", "approved", "rejected"]


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_ref: Ref
    borrower_credit_code: CreditCode
    applied_on: date
    amount_requested: Amount
    decision: Decision
    decided_on: date | None = None
    borrower_size: Size | None = Field(
        default=None,
        description="The applicant's size as the bank knows it; the registry's size for the application year wins",
    )


ApplicationBatchRequest = batch_request(
    "ApplicationBatchRequest",
    ApplicationIn,
    {
        "application_ref": "A-2022-0042",
        "borrower_credit_code": "91330106MA27XK3L4D",
        "applied_on": "2022-02-01",
        "amount_requested": "500000.00",
        "decision": "approved",
        "decided_on": "2022-02-10",
        "borrower_size": "small",
    },
)


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    lender: str
    application_ref: str
    borrower_credit_code: str
    applied_on: date
    amount_requested: MoneyOut
    decision: Decision
    decided_on: date | None
    borrower_size: Size | None
    size_class: Size | None = Field(description="The size 申贷获得率 counts by; null: unknown")
    size_source: Literal["registry", "bank"] | None
    borrower_region: str
    rule_set_version: str
    created_at: datetime
    updated_at: datetime
