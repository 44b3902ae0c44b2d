"""Loan-book reports (各项贷款) as banks post them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.common.batch import batch_request
from services.finance.fields import MoneyOut, _money_out
from services.finance.rules import MAX_BOOK_BALANCE

# ≥ 0, 2 decimals (FIN-V005); a whole book may exceed one loan's ceiling
BookBalance = Annotated[
    Decimal, Field(ge=0, le=MAX_BOOK_BALANCE, decimal_places=2, examples=["1250000000000.00"]), _money_out
]


class LoanBookReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_end: date = Field(description="The date the figures are taken at (a period end)")
    all_loans_balance: BookBalance = Field(description="各项贷款余额: the whole loan book's balance, yuan")
    all_loans_borrowers: Annotated[int, Field(ge=0, le=10**12, strict=True)] = Field(
        description="各项贷款户数: distinct borrowers with a balance on the whole book"
    )


LoanBookReportBatchRequest = batch_request(
    "LoanBookReportBatchRequest",
    LoanBookReportIn,
    {"period_end": "2022-12-31", "all_loans_balance": "1250000000000.00", "all_loans_borrowers": 182000},
)


class LoanBookReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    lender: str
    period_end: date
    all_loans_balance: MoneyOut
    all_loans_borrowers: int
    rule_set_version: str
    created_at: datetime
    updated_at: datetime
