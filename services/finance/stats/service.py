"""Statistics: periods and the figures' definitions in code (scoping: the repository)."""

from __future__ import annotations

import asyncio
from calendar import monthrange
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import NotFound
from services.common.readpool import Reader
from services.common.scope import RegionScope
from services.common.sql import Sql
from services.common.targets import ProgrammeTarget, reported_targets
from services.common.today import today_shanghai
from services.finance.errors import (
    ConflictingPeriod,
    MissingPeriod,
    PeriodOrder,
    TooManyMonths,
)
from services.finance.rules import DEFINITIONS, RULES
from services.finance.scope import stats_lender
from services.finance.stats import repository as repo
from services.finance.stats.schemas import (
    Applications,
    Balance,
    Balances,
    Borrowers,
    CountAmount,
    FinancingSummary,
    Group,
    Guarantees,
    GuarantorLeverage,
    LoanFigures,
    NewLoans,
    Period,
    SmbNewLoans,
    Stats,
    Targets,
    TwoIncreases,
    TwoIncreasesFigure,
)

APPROVAL = DEFINITIONS["approval_rate"]

# Month-aligned periods read the month summaries maintained with every loan write (the triggers
# of services/finance/stats/db.py); switch off to compute everything from the loans (tests compare both).
USE_SUMMARIES = True
ZERO = Decimal("0")


def pct(num, den) -> Decimal | None:
    num, den = Decimal(num or 0), Decimal(den or 0)
    if den == 0:
        return None
    return (num / den * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def growth(end, base) -> Decimal | None:
    end, base = Decimal(end or 0), Decimal(base or 0)
    if base == 0:
        return None
    return ((end - base) / base * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def minus_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def resolve_period(year: int | None, p_from: date | None, p_to: date | None) -> tuple[date, date]:
    if year is not None and (p_from or p_to):
        raise ConflictingPeriod()
    if year is None and p_from is None and p_to is None:
        year = today_shanghai().year
    if year is not None:
        return date(year, 1, 1), date(year, 12, 31)
    if p_from is None or p_to is None:
        missing = "from" if p_from is None else "to"
        raise MissingPeriod(missing=missing)
    if p_from > p_to:
        raise PeriodOrder()
    return p_from, p_to


def base_date(base: str, p_from: date, p_to: date) -> date:
    return minus_year(p_to) if base == "same_period_last_year" else p_from - timedelta(days=1)


def _figures(r) -> LoanFigures:
    a_inc = r["a_inc"] or ZERO
    return LoanFigures(
        new_loans=NewLoans(
            all=CountAmount(count=r["n_all"] or 0, amount=r["a_all"] or ZERO),
            small_micro=CountAmount(count=r["n_sm"] or 0, amount=r["a_sm"] or ZERO),
            inclusive=CountAmount(count=r["n_inc"] or 0, amount=a_inc),
        ),
        balances=Balances(
            all=Balance(
                end=r["bal_end"] or ZERO,
                base=r["bal_base"] or ZERO,
                growth_rate=growth(r["bal_end"], r["bal_base"]),
            ),
            inclusive=Balance(
                end=r["inc_end"] or ZERO,
                base=r["inc_base"] or ZERO,
                growth_rate=growth(r["inc_end"], r["inc_base"]),
            ),
        ),
        inclusive_borrowers=Borrowers(end=r["inc_borrowers_end"] or 0, base=r["inc_borrowers_base"] or 0),
        first_time_borrowers=r["first_time"] or 0,
        inclusive_new_loans_avg_rate=(
            (Decimal(r["rate_w"]) / a_inc).quantize(Decimal("0.01"), ROUND_HALF_UP) if a_inc else None
        ),
    )


EMPTY = {
    k: None
    for k in (
        "n_all", "a_all", "n_sm", "a_sm", "n_inc", "a_inc", "rate_w", "bal_end", "bal_base", "inc_end",
        "inc_base", "inc_borrowers_end", "inc_borrowers_base", "first_time",
    )
}  # fmt: skip


def _months(p_from: date, p_to: date, base: str, d_base: date) -> list[tuple[str, date, date, date]]:
    out = []
    y, m = p_from.year, p_from.month
    while (y, m) <= (p_to.year, p_to.month):
        start = max(date(y, m, 1), p_from)
        end = min(date(y, m, monthrange(y, m)[1]), p_to)
        out.append(
            (f"{y:04d}-{m:02d}", start, end, minus_year(end) if base == "same_period_last_year" else d_base)
        )
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


async def _nothing() -> None:
    return None


async def _smb_new_loans(conn, loans_f: Sql) -> tuple[ProgrammeTarget, Any, Any]:
    """The smb_new_loans target, the small-micro balances at its window's start and end and the
    gross issuance within it (the window is the target row's, nowhere else's)."""
    target = (await reported_targets(conn, "finance"))["smb_new_loans"]
    start, end = target.window_start, target.window_end
    # a window of whole months (the 1st to a month end) reads the month totals
    whole_months = USE_SUMMARIES and start.day == 1 and repo.is_month_end(end)
    gross = repo.summary_smb_gross_issuance if whole_months else repo.smb_gross_issuance
    balances = repo.summary_smb_balances if whole_months else repo.smb_balances
    # the balance "at the window's start" is the balance at the close of the day before it
    return (
        target,
        await balances(conn, loans_f, start - timedelta(days=1), end),
        await gross(conn, loans_f, start, end),
    )


async def _loan_book(conn, lender: str | None, dates: list[date]):
    return await repo.loan_book_reports(conn, lender, dates)


def assess_two_increases(r, book_end, book_base) -> TwoIncreases:
    """“两增” of one lender (domain.md §6, the programme's 高于: strictly above on both halves).

    The growth rates are compared exactly (cross-multiplied), not as the rounded percentages
    shown: inclusive growth > book growth ⇔ inc_end ÷ inc_base > book_end ÷ book_base."""
    inc_end, inc_base = Decimal(r["inc_end"] or 0), Decimal(r["inc_base"] or 0)
    b_end, b_base = r["inc_borrowers_end"] or 0, r["inc_borrowers_base"] or 0
    borrowers_ok = b_end > b_base
    reason = None
    balance_ok = None
    if book_end is None or book_base is None:
        reason = "no_loan_book_report"
    elif inc_base == 0 or book_base["all_loans_balance"] == 0:
        reason = "zero_base"
    else:
        balance_ok = inc_end * book_base["all_loans_balance"] > book_end["all_loans_balance"] * inc_base
    return TwoIncreases(
        lender=r["lender"],
        inclusive_balance_end=inc_end,
        inclusive_balance_base=inc_base,
        inclusive_balance_growth_rate=growth(inc_end, inc_base),
        loan_book_balance_end=book_end["all_loans_balance"] if book_end else None,
        loan_book_balance_base=book_base["all_loans_balance"] if book_base else None,
        loan_book_growth_rate=(
            growth(book_end["all_loans_balance"], book_base["all_loans_balance"])
            if book_end and book_base
            else None
        ),
        loan_book_borrowers_end=book_end["all_loans_borrowers"] if book_end else None,
        loan_book_borrowers_base=book_base["all_loans_borrowers"] if book_base else None,
        balance_growth_ok=balance_ok,
        inclusive_borrowers_end=b_end,
        inclusive_borrowers_base=b_base,
        borrowers_ok=borrowers_ok,
        passed=None if balance_ok is None else (balance_ok and borrowers_ok),
        reason=reason,
    )


async def stats(
    reads: Reader,
    principal: Principal,
    *,
    year: int | None,
    p_from: date | None,
    p_to: date | None,
    region: str | None,
    lender: str | None,
    base: str,
    group_by: str | None,
) -> Stats:
    p_from, p_to = resolve_period(year, p_from, p_to)
    if group_by == "month" and (p_to.year - p_from.year) * 12 + p_to.month - p_from.month >= 36:
        raise TooManyMonths()
    d_base = base_date(base, p_from, p_to)
    eff_lender = stats_lender(principal, lender)
    region_scope = RegionScope.of(principal).narrow(region)
    loans_f, apps_f, g_f = repo.scope_filters(region_scope, eff_lender)
    summary = USE_SUMMARIES and repo.summary_applies(p_from, p_to, d_base, region_scope, group_by)
    # distinct borrowers (首贷户, 申贷获得率) of one whole calendar year read the borrower years
    year_summary = repo.calendar_year(p_from, p_to, region_scope) if USE_SUMMARIES else None
    g = group_by if group_by != "month" else None

    # The statements are independent reads: each runs on its own read-pool connection at the same
    # time, so the answer takes as long as the slowest (docs/finance.md, "Full scale"), not the
    # sum. Each statement sees committed data as of its start, as sequential reads would.
    async def on_connection(fn, *args):
        async with reads.connection() as conn:
            return await fn(conn, *args)

    if summary:
        figures = on_connection(
            repo.summary_figures, loans_f, region_scope, eff_lender, p_from, p_to, d_base, g
        )
        first_time = (
            on_connection(repo.summary_first_time_borrowers, region_scope, eff_lender, year_summary, g)
            if year_summary is not None
            else on_connection(repo.first_time_borrowers, loans_f, p_from, p_to, g)
        )
        two_increases = on_connection(
            repo.summary_two_increases, loans_f, region_scope, eff_lender, p_to, d_base
        )
    else:
        figures = on_connection(repo.loan_figures, loans_f, p_from, p_to, d_base, g)
        first_time = _nothing()
        two_increases = on_connection(repo.two_increases, loans_f, p_to, d_base)
    months = (
        on_connection(repo.loan_figures_by_month, loans_f, _months(p_from, p_to, base, d_base))
        if group_by == "month"
        else _nothing()
    )
    (
        rows,
        first_rows,
        two_rows,
        month_rows,
        a,
        (g_tot, g_rows),
        (smb_target, smb, smb_gross),
        books,
        all_targets,
    ) = await asyncio.gather(
        figures,
        first_time,
        two_increases,
        months,
        (
            on_connection(repo.summary_applications, region_scope, eff_lender, year_summary)
            if year_summary is not None
            else on_connection(repo.applications, apps_f, p_from, p_to, list(APPROVAL["sizes"]))
        ),
        on_connection(repo.guarantees, g_f, p_from, p_to),
        on_connection(_smb_new_loans, loans_f),
        on_connection(_loan_book, eff_lender, [p_to, d_base]),
        on_connection(reported_targets, "finance"),
    )
    if summary:
        rows = repo.with_first_time(rows, first_rows)
    total_row = next((r for r in rows if r["is_total"]), None) or EMPTY
    groups = [Group(key=r["g"], **_figures(r).model_dump()) for r in rows if not r["is_total"]]
    if group_by == "month":
        groups = [Group(key=r["g"], **_figures(r).model_dump()) for r in month_rows]

    # every lender with loans in scope is listed; a lender's whole book comes from its reports
    two = [
        assess_two_increases(r, books.get((r["lender"], p_to)), books.get((r["lender"], d_base)))
        for r in two_rows
    ]
    assessed = [t for t in two if t.passed is not None]
    passing = sum(1 for t in assessed if t.passed)
    two_target = all_targets.get("two_increases")

    leverage = []
    for r in g_rows:
        cap = repo.leverage_cap(r["small_micro_focused"])
        lev = (
            (Decimal(r["in_force"]) / r["net_assets"]).quantize(Decimal("0.01")) if r["net_assets"] else None
        )
        leverage.append(
            GuarantorLeverage(
                guarantor=r["guarantor"],
                in_force_balance=r["in_force"],
                net_assets=r["net_assets"],
                leverage=lev,
                cap=cap,
                within_cap=None if lev is None else lev <= cap,
            )
        )
    return Stats(
        period=Period(from_=p_from, to=p_to, base=base, base_date=d_base),
        region=region,
        lender=lender if principal.kind != "bank" else principal.org,
        rule_set_version=RULES.version,
        totals=_figures(total_row),
        group_by=group_by,
        groups=groups,
        two_increases=two,
        applications=Applications(
            applied_enterprises=a["applied"],
            obtained_enterprises=a["obtained"],
            approval_rate=pct(a["obtained"], a["applied"]),
            sizes=list(APPROVAL["sizes"]),
            other_sizes_applied=a["other_applied"],
        ),
        guarantees=Guarantees(
            new_guaranteed_amount=g_tot["new_amount"],
            new_count=g_tot["new_count"],
            in_force_balance=g_tot["in_force"],
            avg_fee_rate=(
                (Decimal(g_tot["fee_w"]) / g_tot["new_amount"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
                if g_tot["new_amount"]
                else None
            ),
            released_amount=g_tot["released"],
            compensated_amount=g_tot["compensated"],
            compensation_rate=pct(g_tot["compensated"], g_tot["released"]),
            recovered_amount=g_tot["recovered"],
            recovery_rate=pct(g_tot["recovered"], g_tot["compensated"]),
            leverage=leverage,
        ),
        targets=Targets(
            smb_new_loans=_smb_figure(smb_target, smb, smb_gross),
            two_increases=TwoIncreasesFigure(
                value=f"{pct(passing, len(assessed))}" if assessed else None,
                unit="percent",
                definition=(
                    "两增: lenders passing ÷ lenders assessed × 100; a lender passes when its inclusive "
                    "(普惠型) loan balance grew strictly more than its whole loan book (各项贷款, as it "
                    "reports it) between the base date and the period end, and its inclusive borrowers "
                    "at the end are strictly more than at the base; a lender without a whole-book "
                    "report for both dates is not assessed (passed null, reason no_loan_book_report)"
                ),
                target=two_target.value_text if two_target else "100",
                progress_percent=f"{pct(passing, len(assessed))}" if assessed else None,
                years=[p_to.year],
                window_start=d_base,
                window_end=p_to,
                source=DEFINITIONS["two_increases"]["source"],
                settled=DEFINITIONS["two_increases"]["settled"],
                lenders_listed=len(two),
                lenders_assessed=len(assessed),
                lenders_passing=passing,
            ),
        ),
    )


def _smb_figure(t: ProgrammeTarget, balances, gross) -> SmbNewLoans:
    start, end = Decimal(balances["at_start"]), Decimal(balances["at_end"])
    new = end - start
    return SmbNewLoans(
        value=f"{new:.2f}",
        unit=t.unit,
        definition=(
            "全省3年新增投向小微企业贷款: growth of the small-micro loan balance over the target's "
            f"window {t.window_start}..{t.window_end} (balance at its end minus at the day before "
            "its start; small or micro by the registry size for the issue year, else the bank's), "
            "within the caller's scope and filters; gross issuance in the window is shown beside "
            f"(gross_issuance), never instead; target {t.value:,.0f} yuan ({t.note})"
        ),
        target=t.value_text,
        progress_percent=f"{pct(new, t.value):.2f}" if t.value else None,
        years=t.window_years,
        window_start=t.window_start,
        window_end=t.window_end,
        source=DEFINITIONS["smb_new_loans"]["source"],
        settled=DEFINITIONS["smb_new_loans"]["settled"],
        balance_at_start=start,
        balance_at_end=end,
        gross_issuance=Decimal(gross),
    )


async def financing_summary(session: AsyncSession, principal: Principal, code: str) -> FinancingSummary:
    if not await repo.enterprise_in_scope(session, principal, code):
        raise NotFound(what="enterprise", key=code)
    lo, li, g = await repo.financing_summary(session, principal, code)
    return FinancingSummary(
        credit_code=code,
        loans_count=lo["n"],
        loans_amount=lo["amount"],
        outstanding_balance=lo["balance"],
        inclusive_share=pct(lo["inclusive_amount"], lo["amount"]),
        credit_lines_count=li["n"],
        credit_lines_amount=li["amount"],
        guarantees_count=g["n"],
        guaranteed_amount=g["amount"],
    )
