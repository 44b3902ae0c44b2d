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
    inclusive_balance_end: MoneyOut = Field(description="Inclusive loans' balance at the period end")
    inclusive_balance_base: MoneyOut = Field(description="Inclusive loans' balance at the base date")
    inclusive_balance_growth_rate: Percent | None
    loan_book_balance_end: MoneyOut | None = Field(
        description="The bank's whole loan book (各项贷款) at the period end, as it reported it; null: no report"
    )
    loan_book_balance_base: MoneyOut | None = Field(description="… at the base date; null: no report")
    loan_book_growth_rate: Percent | None
    loan_book_borrowers_end: int | None
    loan_book_borrowers_base: int | None
    balance_growth_ok: bool | None = Field(
        description="inclusive growth strictly above whole-book growth (高于); null: not assessed"
    )
    inclusive_borrowers_end: int
    inclusive_borrowers_base: int
    borrowers_ok: bool = Field(description="inclusive borrowers at the end strictly above the base (高于)")
    passed: bool | None = Field(description="both; null: not assessed (see reason)")
    reason: Literal["no_loan_book_report", "zero_base"] | None = Field(
        description="why not assessed: no whole-book report for the end or the base date, or a base of 0"
    )


class Applications(BaseModel):
    applied_enterprises: int
    obtained_enterprises: int
    approval_rate: Percent | None = Field(
        description="申贷获得率 = small/micro enterprises obtained ÷ small/micro enterprises applied × 100"
    )
    sizes: list[str] = Field(description="the applicant sizes counted (the definition's data)")
    other_sizes_applied: int = Field(description="applicants of other sizes in the period, not counted")


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
    value: str | None = Field(description="Progress so far (decimal string); null: nothing to measure yet")
    unit: str
    definition: str
    target: str | None = Field(description="The target row's value; null: no target row")
    progress_percent: str | None
    years: list[int]
    window_start: date | None = None
    window_end: date | None = None
    source: str = Field(description="The document the definition follows")
    settled: bool = Field(description="false: the definition is a choice the source does not settle")


class SmbNewLoans(Target):
    balance_at_start: MoneyOut = Field(description="Small-micro loan balance at the day before the window")
    balance_at_end: MoneyOut = Field(description="Small-micro loan balance at the window's end")
    gross_issuance: MoneyOut = Field(
        description="Σ amount of small-micro loans issued in the window (renewals included): beside, never instead"
    )


class TwoIncreasesFigure(Target):
    lenders_listed: int = Field(description="lenders in `two_increases`")
    lenders_assessed: int = Field(description="lenders with a result (passed not null)")
    lenders_passing: int


class Targets(BaseModel):
    """The figures the progress bulletin reads, by programme target key (`value` is the actual)."""

    smb_new_loans: SmbNewLoans
    two_increases: TwoIncreasesFigure


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
    targets: Targets


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
