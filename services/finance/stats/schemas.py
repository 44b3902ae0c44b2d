"""Statistics responses. Definitions are in the route description (and docs/finance.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

from services.finance.fields import MoneyOut

Base = Literal["same_period_last_year", "start_of_period"]
GroupBy = Literal["city", "county", "lender", "product", "month"]
Percent = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    Field(examples=["12.50"]),
]


class CountAmount(BaseModel):
    count: int
    amount: MoneyOut


class NewLoans(BaseModel):
    all: CountAmount
    small_micro: CountAmount
    inclusive: CountAmount


class Balance(BaseModel):
    end: MoneyOut = Field(description="Balance at the period end")
    base: MoneyOut = Field(description="Balance at the comparison base date")
    growth_rate: Percent | None = Field(description="(end − base) ÷ base × 100; null when base is 0")


class Balances(BaseModel):
    all: Balance
    inclusive: Balance


class Borrowers(BaseModel):
    end: int
    base: int


class LoanFigures(BaseModel):
    new_loans: NewLoans
    balances: Balances
    inclusive_borrowers: Borrowers = Field(
        description="Distinct borrowers with an inclusive-loan balance > 0 at the period end / the base"
    )
    first_time_borrowers: int = Field(description="Distinct borrowers of new loans reported as 首贷")
    inclusive_new_loans_avg_rate: Percent | None = Field(
        description="Amount-weighted average annual rate of new inclusive loans"
    )


class Group(LoanFigures):
    key: str


class TwoIncreases(BaseModel):
    lender: str
    inclusive_balance_growth_rate: Percent | None
    all_balance_growth_rate: Percent | None
    balance_growth_ok: bool | None = Field(
        description="inclusive growth ≥ all-loans growth (null: a base is 0)"
    )
    inclusive_borrowers_end: int
    inclusive_borrowers_base: int
    borrowers_ok: bool
    passed: bool | None


class Applications(BaseModel):
    applied_enterprises: int
    obtained_enterprises: int
    approval_rate: Percent | None = Field(description="申贷获得率 = obtained ÷ applied × 100")


class GuarantorLeverage(BaseModel):
    guarantor: str
    in_force_balance: MoneyOut
    net_assets: MoneyOut | None
    leverage: Decimal | None = Field(description="in-force balance ÷ net assets (times)")
    cap: Decimal
    within_cap: bool | None


class Guarantees(BaseModel):
    new_guaranteed_amount: MoneyOut
    new_count: int
    in_force_balance: MoneyOut
    avg_fee_rate: Percent | None
    released_amount: MoneyOut
    compensated_amount: MoneyOut
    compensation_rate: Percent | None
    recovered_amount: MoneyOut
    recovery_rate: Percent | None
    leverage: list[GuarantorLeverage]


class Target(BaseModel):
    value: str = Field(description="Progress so far (decimal string)")
    unit: str
    definition: str
    target: str
    progress_percent: str | None
    years: list[int]


class Period(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    base: Base
    base_date: date = Field(description="Balances are compared with this date")

    model_config = {"populate_by_name": True}


class Stats(BaseModel):
    period: Period
    region: str | None
    lender: str | None
    rule_set_version: str
    totals: LoanFigures
    group_by: GroupBy | None
    groups: list[Group]
    two_increases: list[TwoIncreases] = Field(description="“两增” per lender")
    applications: Applications
    guarantees: Guarantees
    targets: dict[str, Target]


class FinancingSummary(BaseModel):
    credit_code: str
    loans_count: int
    loans_amount: MoneyOut
    outstanding_balance: MoneyOut
    inclusive_share: Percent | None = Field(description="Inclusive loans' amount ÷ all loans' amount × 100")
    credit_lines_count: int
    credit_lines_amount: MoneyOut
    guarantees_count: int
    guaranteed_amount: MoneyOut
