"""Financing guarantees (融资担保) as guarantee institutions post them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.batch import batch_request
from services.common.types import CreditCode
from services.finance.fields import Amount, MoneyIn, MoneyOut, RateIn, RateOut, Ref, ShareIn

GuaranteeStatus = Literal["active", "released", "compensated"]


class GuaranteeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guarantee_ref: Ref
    borrower_credit_code: CreditCode
    lender_code: Ref = Field(description="Institution code of the lending bank")
    loan_ref: Ref | None = Field(None, description="The main loan at that lender, when known")
    guaranteed_amount: Amount
    outstanding_amount: MoneyIn = Field(description="In-force guarantee balance")
    fee_rate: RateIn = Field(description="Annual guarantee fee rate, percent")
    starts_on: date
    ends_on: date
    status: GuaranteeStatus
    released_on: date | None = None
    compensated_on: date | None = None
    compensated_amount: MoneyIn = Decimal("0")
    recovered_amount: MoneyIn = Decimal("0")
    counter_guarantee: bool = Field(False, description="A counter-guarantee (反担保) secures it")
    reguarantee_share: ShareIn = Field(Decimal("0"), description="Share re-guaranteed, percent")


GuaranteeBatchRequest = batch_request(
    "GuaranteeBatchRequest",
    GuaranteeIn,
    {
        "guarantee_ref": "G-2022-0318",
        "borrower_credit_code": "91330106MA27XK3L4D",
        "lender_code": "NBCB",
        "loan_ref": "L-2022-000123",
        "guaranteed_amount": "1000000.00",
        "outstanding_amount": "800000.00",
        "fee_rate": "1.00",
        "starts_on": "2022-03-01",
        "ends_on": "2023-03-01",
        "status": "active",
        "counter_guarantee": True,
        "reguarantee_share": "40",
    },
)


class GuaranteeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    guarantor: str
    guarantee_ref: str
    borrower_credit_code: str
    lender_code: str
    loan_ref: str | None
    guaranteed_amount: MoneyOut
    outstanding_amount: MoneyOut
    fee_rate: RateOut
    starts_on: date
    ends_on: date
    status: GuaranteeStatus
    released_on: date | None
    compensated_on: date | None
    compensated_amount: MoneyOut
    recovered_amount: MoneyOut
    counter_guarantee: bool
    reguarantee_share: RateOut
    borrower_region: str
    rule_set_version: str
    created_at: datetime
    updated_at: datetime
