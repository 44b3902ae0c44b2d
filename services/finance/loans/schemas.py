"""Loan records as banks post them, and as every reader sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.batch import batch_request
from services.common.types import CreditCode
from services.finance.fields import Amount, MoneyIn, MoneyOut, Name, RateIn, RateOut, Ref

Size = Literal["large", "medium", "small", "micro"]
Product = Literal[
    "credit",
    "guaranteed",
    "mortgage",
    "pledge",
    "ip_pledge",
    "receivables",
    "supply_chain",
    "inventory",
    "movable_property",
    "other",
]
RenewalType = Literal["new", "renewal_without_repayment", "refinance", "extension"]
LoanStatus = Literal["outstanding", "repaid", "overdue", "written_off"]
BorrowerKind = Literal["enterprise", "individual_business", "business_owner"]
InclusiveReason = Literal[
    "line_total_within_cap",
    "line_total_over_cap",
    "no_line_loans_total_within_cap",
    "no_line_loans_total_over_cap",
    "not_small_micro",
]


class LoanIn(BaseModel):
    """One record of `POST /v1/loans/batch`. The lender is the caller's institution."""

    model_config = ConfigDict(extra="forbid")

    loan_ref: Ref
    borrower_credit_code: CreditCode
    borrower_name: Name
    borrower_size: Size = Field(description="Size class as the bank classified the borrower")
    product: Product
    amount: Amount
    annual_rate: RateIn
    issued_on: date
    matures_on: date
    renewal_type: RenewalType
    is_first_loan: bool = Field(
        description="首贷户: the borrower's first-ever bank loan, as the bank reports"
    )
    credit_line_ref: Ref | None = None
    guarantee_ref: Ref | None = None
    outstanding_balance: MoneyIn
    status: LoanStatus
    closed_on: date | None = Field(None, description="Required when repaid or written off")
    borrower_kind: BorrowerKind | None = Field(
        None,
        description=(
            "absent or null: enterprise; individual_business (个体工商户, its own credit code); business_owner (小微企业主: "
            "borrower_credit_code is the small/micro enterprise they own, customer_ref the bank's ref "
            "of the owner)"
        ),
    )
    customer_ref: Ref | None = Field(
        None,
        description="business_owner only: the bank's own customer reference — never a personal ID number",
    )


LoanBatchRequest = batch_request(
    "LoanBatchRequest",
    LoanIn,
    {
        "loan_ref": "L-2022-000123",
        "borrower_credit_code": "91330106MA27XK3L4D",
        "borrower_name": "杭州示例精密机械有限公司",
        "borrower_size": "small",
        "product": "credit",
        "amount": "1000000.00",
        "annual_rate": "4.35",
        "issued_on": "2022-03-01",
        "matures_on": "2023-03-01",
        "renewal_type": "new",
        "is_first_loan": True,
        "credit_line_ref": "CL-2022-0007",
        "outstanding_balance": "800000.00",
        "status": "outstanding",
    },
)


class LoanOut(BaseModel):
    lender: str
    loan_ref: str
    borrower_credit_code: str
    borrower_name: str
    borrower_size: Size
    product: Product
    amount: MoneyOut
    annual_rate: RateOut
    issued_on: date
    matures_on: date
    renewal_type: RenewalType
    is_first_loan: bool
    credit_line_ref: str | None
    guarantee_ref: str | None
    outstanding_balance: MoneyOut
    status: LoanStatus
    closed_on: date | None
    borrower_kind: BorrowerKind
    customer_ref: str | None
    borrower_region: str = Field(
        description="Registry region, or the credit code's area digits when unmatched"
    )
    unmatched: bool = Field(description="The registry did not know the borrower when the loan was stored")
    size_class: Size = Field(description="Size used for the inclusive test")
    size_source: Literal["registry", "bank"] = Field(
        description="registry: the registry's size class for the issue year; bank: borrower_size"
    )
    line_total: MoneyOut | None = Field(
        description="Total of the borrower's active credit lines at this lender on the issue date (null: none)"
    )
    loans_total: MoneyOut | None = Field(
        None,
        description=(
            "The customer's loans at this lender on the issue date: this loan's amount plus its other "
            "loans outstanding that day (the basis when there is no line)"
        ),
    )
    inclusive: bool = Field(description="普惠型小微企业贷款")
    inclusive_reason: InclusiveReason
    rule_set_version: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row) -> LoanOut:
        return cls.model_validate({**{c: getattr(row, c) for c in _COLUMNS}, "unmatched": not row.matched})


_COLUMNS = [f for f in LoanOut.model_fields if f != "unmatched"]


@dataclass(frozen=True)
class LoanFilters:
    """The filters of the loan list, and of its export (router.py `loan_filters` reads them)."""

    borrower: str | None = None
    lender: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    status: LoanStatus | None = None
    product: Product | None = None
    inclusive: bool | None = None
    unmatched: bool | None = None
