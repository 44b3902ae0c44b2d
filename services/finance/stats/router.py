"""Statistics, the enterprise financing summary, and the rule set."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.auth import CurrentPrincipal, require_kind
from services.common.batch import RuleSetOut
from services.common.db import DbSession
from services.common.errors import Forbidden, NotFound, QueryTooBroad, RegionOutOfScope, responses
from services.common.readpool import Reads
from services.common.types import CreditCode, RegionCode
from services.finance.errors import (
    ConflictingPeriod,
    MissingPeriod,
    NoInstitution,
    PeriodOrder,
    TooManyMonths,
)
from services.finance.fields import CodeFilter
from services.finance.rules import RULES
from services.finance.stats import service
from services.finance.stats.schemas import Base, FinancingSummary, GroupBy, Stats

router = APIRouter(tags=["statistics"])

STATS_DESCRIPTION = """
Inclusive-finance statistics for a period (`year`, or `from`+`to`; default the current year),
scoped to the caller: a bank gets its own figures, an official their region (`region` may narrow
it), admin everything. Definitions:

- **new loans**: loans with `issued_on` in the period — all; small-micro (size class small or
  micro: the registry's class for the issue year, else the bank's); inclusive (普惠型小微, flag
  stored with each loan).
- **balance at date D** = Σ outstanding principal of loans issued on or before D and not closed by
  D (`closed_on` empty or after D). A loan still open counts its reported `outstanding_balance`;
  a loan closed since D counts its `amount` (no repayment schedule is kept).
- **balances**: at the period end (`to`) and at the comparison base date: `base=same_period_last_year`
  → `to` one year earlier; `base=start_of_period` → the day before `from`.
  **growth_rate** = (end − base) ÷ base × 100 (null when the base is 0).
- **inclusive_borrowers**: distinct borrowers with an inclusive-loan balance > 0 at the date.
- **two_increases** (“两增”, per lender): passes when the inclusive balance growth is strictly
  above the growth of the bank's whole loan book (各项贷款, from its `POST /v1/loan-book-reports`
  for the base date and the period end) and inclusive borrowers at the end are strictly above the
  base; without a report for both dates `passed` is null with `reason: no_loan_book_report`.
- **first_time_borrowers** (首贷户): distinct borrowers of new loans the bank reported as first loans.
- **inclusive_new_loans_avg_rate**: Σ(amount × annual_rate) ÷ Σ amount over new inclusive loans.
- **applications.approval_rate** (申贷获得率): distinct small/micro applicants with an application in
  the period that was approved ÷ distinct small/micro applicants in the period (by `applied_on`;
  size: the registry's for the application year, else the bank's `borrower_size`).
- **guarantees**: new = `starts_on` in the period (amount, count, amount-weighted fee rate);
  in-force balance = Σ `outstanding_amount` of guarantees started by `to` and neither released nor
  compensated by `to`; released amount = Σ guaranteed amount of guarantees released or compensated
  in the period; compensation rate = compensated ÷ released; recovery rate = recovered ÷ compensated
  (guarantees compensated in the period); leverage (放大倍数) = in-force balance ÷ the guarantor's
  net assets (cap 10×, 15× for small-micro focused guarantors). For banks: guarantees naming them.
- **groups** (`group_by`): city / county (borrower region), lender, product, or month (each month's
  new loans and its month-end balance against the month-end a year earlier, or the period base).
- **targets.smb_new_loans**: new lending to small-micro enterprises = their loan balance at the end
  of the programme target's window minus at the day before its start (the window is the target
  row's, as `years`, `window_start`, `window_end`), against the 5000亿 target; `gross_issuance`
  beside it. **targets.two_increases**: lenders passing 两增 ÷ lenders assessed × 100.
  Each figure states its `source` and whether it is `settled`.
"""


@router.get(
    "/v1/stats",
    summary="Inclusive-finance statistics (new loans, balances, 两增, 申贷获得率, guarantees, targets)",
    description=STATS_DESCRIPTION,
    dependencies=[require_kind("bank", "official", "admin")],
    responses=responses(
        Forbidden,
        NoInstitution,
        RegionOutOfScope,
        NotFound,
        ConflictingPeriod,
        MissingPeriod,
        PeriodOrder,
        QueryTooBroad,
        TooManyMonths,
    ),
)
async def get_stats(
    principal: CurrentPrincipal,
    reads: Reads,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    region: Annotated[RegionCode | None, Query(description="Borrower region (prefix scoping)")] = None,
    lender: Annotated[CodeFilter | None, Query()] = None,
    base: Annotated[Base, Query()] = "same_period_last_year",
    group_by: Annotated[GroupBy | None, Query()] = None,
) -> Stats:
    if from_ is not None and not (date(2000, 1, 1) <= from_ <= date(2100, 12, 31)):
        from_ = max(min(from_, date(2100, 12, 31)), date(2000, 1, 1))
    if to is not None and not (date(2000, 1, 1) <= to <= date(2100, 12, 31)):
        to = max(min(to, date(2100, 12, 31)), date(2000, 1, 1))
    return await service.stats(
        reads,
        principal,
        year=year,
        p_from=from_,
        p_to=to,
        region=region,
        lender=lender,
        base=base,
        group_by=group_by,
    )


@router.get(
    "/v1/enterprises/{credit_code}/financing-summary",
    summary="An enterprise's financing in the caller's scope (for the gateway's profile)",
    description=(
        "Loans (count, amount, open balance, inclusive share of amount), active credit lines and "
        "guarantees of the enterprise. A bank sees only its own records, a guarantor only its "
        "guarantees; an official gets 404 outside their region."
    ),
    dependencies=[require_kind("bank", "guarantor", "official", "admin")],
    responses=responses(Forbidden, NotFound),
)
async def get_financing_summary(
    credit_code: Annotated[CreditCode, Path()], session: DbSession, principal: CurrentPrincipal
) -> FinancingSummary:
    return await service.financing_summary(session, principal, credit_code)


@router.get(
    "/v1/rules",
    summary="The validation rules and the rule-set version stamped on accepted records",
)
async def list_rules(principal: CurrentPrincipal) -> RuleSetOut:
    return RULES.describe()
