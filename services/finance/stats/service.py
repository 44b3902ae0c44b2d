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
from services.finance.rules import RULES
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
    Stats,
    Target,
    TwoIncreases,
)

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


async def _smb_new_loans(conn, loans_f: Sql) -> tuple[ProgrammeTarget, Any]:
    """The smb_new_loans target and the lending summed over its window (the table's, nowhere else's)."""
    target = (await reported_targets(conn, "finance"))["smb_new_loans"]
    start, end = target.window_start, target.window_end
    whole_months = start.day == 1 and repo.is_month_end(end)
    query = repo.summary_smb_new_loans if USE_SUMMARIES and whole_months else repo.smb_new_loans
    return target, await query(conn, loans_f, start, end)


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
        first_time = on_connection(repo.first_time_borrowers, loans_f, p_from, p_to, g)
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
    rows, first_rows, two_rows, month_rows, a, (g_tot, g_rows), (smb_target, smb) = await asyncio.gather(
        figures,
        first_time,
        two_increases,
        months,
        on_connection(repo.applications, apps_f, p_from, p_to),
        on_connection(repo.guarantees, g_f, p_from, p_to),
        on_connection(_smb_new_loans, loans_f),
    )
    if summary:
        rows = repo.with_first_time(rows, first_rows)
    total_row = next((r for r in rows if r["is_total"]), None) or EMPTY
    groups = [Group(key=r["g"], **_figures(r).model_dump()) for r in rows if not r["is_total"]]
    if group_by == "month":
        groups = [Group(key=r["g"], **_figures(r).model_dump()) for r in month_rows]

    two = []
    for r in two_rows:
        inc_g, all_g = growth(r["inc_end"], r["inc_base"]), growth(r["bal_end"], r["bal_base"])
        balance_ok = None if inc_g is None or all_g is None else inc_g >= all_g
        borrowers_ok = r["inc_borrowers_end"] >= r["inc_borrowers_base"]
        two.append(
            TwoIncreases(
                lender=r["lender"],
                inclusive_balance_growth_rate=inc_g,
                all_balance_growth_rate=all_g,
                balance_growth_ok=balance_ok,
                inclusive_borrowers_end=r["inc_borrowers_end"],
                inclusive_borrowers_base=r["inc_borrowers_base"],
                borrowers_ok=borrowers_ok,
                passed=None if balance_ok is None else (balance_ok and borrowers_ok),
            )
        )

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
        targets={
            "smb_new_loans": Target(
                value=f"{Decimal(smb):.2f}",
                unit=smb_target.unit,
                definition=(
                    "全省3年新增投向小微企业贷款: sum of the amounts of loans issued "
                    f"{smb_target.window_start}..{smb_target.window_end} to borrowers sized small or micro "
                    "(registry size for the issue year, else the bank's), within the caller's scope and "
                    f"filters; target {smb_target.value:,.0f} yuan ({smb_target.note})"
                ),
                target=smb_target.value_text,
                progress_percent=f"{pct(smb, smb_target.value):.2f}",
                years=smb_target.window_years,
            )
        },
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
