"""Statistics SQL (conditions built with the kit's `Sql`): one scan of the loans per figure set (two-level aggregation: per borrower,
then per group, so distinct-borrower counts need no DISTINCT), plus applications and guarantees."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.code_region import code_region
from services.common.db import raw_connection
from services.common.scope import RegionScope
from services.common.sql import Sql
from services.finance.rules import LEVERAGE_CAP, LEVERAGE_CAP_SMALL_MICRO
from services.finance.stats.sizes import size_in

SMALL_MICRO = size_in("l.size_class")


def scope_filters(region: RegionScope, lender: str | None) -> tuple[Sql, Sql, Sql]:
    """The conditions on loans, applications (owner lender) and guarantees (lender_code) from the
    request's region scope and lender (`services.finance.scope.stats_lender`)."""
    loans, guarantees = Sql(), Sql()
    if region.restricted:
        loans.where(region.where("l.borrower_region", loans.arg))
        guarantees.where(region.where("l.borrower_region", guarantees.arg))
    if lender:
        loans.where(f"l.lender = {loans.arg(lender)}")
        guarantees.where(f"l.lender_code = {guarantees.arg(lender)}")
    return loans, loans, guarantees


GROUP_EXPR = {
    "city": "substr(l.borrower_region, 1, 4) || '00'",
    "county": "l.borrower_region",
    "lender": "l.lender",
    "product": "l.product",
}


def _bal(d: str, only_inclusive: bool = False) -> str:
    cond = f"l.issued_on <= {d} AND (l.closed_on IS NULL OR l.closed_on > {d})"
    if only_inclusive:
        cond += " AND l.inclusive"
    return f"CASE WHEN {cond} THEN (CASE WHEN l.closed_on IS NULL THEN l.outstanding_balance ELSE l.amount END) ELSE 0 END"


_INNER = """
    sum(CASE WHEN {new} THEN 1 ELSE 0 END) AS n_all,
    sum(CASE WHEN {new} THEN l.amount ELSE 0 END) AS a_all,
    sum(CASE WHEN {new} AND {small_micro} THEN 1 ELSE 0 END) AS n_sm,
    sum(CASE WHEN {new} AND {small_micro} THEN l.amount ELSE 0 END) AS a_sm,
    sum(CASE WHEN {new} AND l.inclusive THEN 1 ELSE 0 END) AS n_inc,
    sum(CASE WHEN {new} AND l.inclusive THEN l.amount ELSE 0 END) AS a_inc,
    sum(CASE WHEN {new} AND l.inclusive THEN l.amount * l.annual_rate ELSE 0 END) AS rate_w,
    sum({bal_end}) AS bal_end,
    sum({bal_base}) AS bal_base,
    sum({inc_end}) AS inc_end,
    sum({inc_base}) AS inc_base,
    bool_or({new} AND l.is_first_loan) AS first_time
"""

_OUTER = """
    sum(n_all)::bigint AS n_all, sum(a_all) AS a_all, sum(n_sm)::bigint AS n_sm, sum(a_sm) AS a_sm,
    sum(n_inc)::bigint AS n_inc, sum(a_inc) AS a_inc, sum(rate_w) AS rate_w,
    sum(bal_end) AS bal_end, sum(bal_base) AS bal_base, sum(inc_end) AS inc_end, sum(inc_base) AS inc_base,
    count(*) FILTER (WHERE inc_end > 0) AS inc_borrowers_end,
    count(*) FILTER (WHERE inc_base > 0) AS inc_borrowers_base,
    count(*) FILTER (WHERE first_time) AS first_time
"""


def _inner_exprs(p_from: str, p_to: str, d_end: str, d_base: str) -> str:
    new = f"(l.issued_on BETWEEN {p_from} AND {p_to})"
    return _INNER.format(
        new=new,
        bal_end=_bal(d_end),
        bal_base=_bal(d_base),
        inc_end=_bal(d_end, True),
        inc_base=_bal(d_base, True),
        small_micro=SMALL_MICRO,
    )


async def loan_figures(
    conn: asyncpg.Connection,
    flt: Sql,
    p_from: date,
    p_to: date,
    d_base: date,
    group_by: str | None,
) -> list[asyncpg.Record]:
    """Rows (is_total, g, figures…) — the total row has is_total = true."""
    f = flt.copy()
    pf, pt, db = f.arg(p_from), f.arg(p_to), f.arg(d_base)
    upper = f"GREATEST({pt}::date, {db}::date)"
    if group_by in GROUP_EXPR:
        g = GROUP_EXPR[group_by]
        sql = f"""
        WITH per AS (
            SELECT GROUPING({g}) = 1 AS is_total, {g} AS g, l.borrower_credit_code AS b,
                   {_inner_exprs(f"{pf}::date", f"{pt}::date", f"{pt}::date", f"{db}::date")}
            FROM finance.loans l
            WHERE {f.where_sql} AND l.issued_on <= {upper}
            GROUP BY GROUPING SETS (({g}, l.borrower_credit_code), (l.borrower_credit_code))
        )
        SELECT is_total, g, {_OUTER} FROM per GROUP BY is_total, g ORDER BY is_total, g
        """
    else:
        sql = f"""
        WITH per AS (
            SELECT l.borrower_credit_code AS b,
                   {_inner_exprs(f"{pf}::date", f"{pt}::date", f"{pt}::date", f"{db}::date")}
            FROM finance.loans l
            WHERE {f.where_sql} AND l.issued_on <= {upper}
            GROUP BY l.borrower_credit_code
        )
        SELECT true AS is_total, NULL::text AS g, {_OUTER} FROM per
        """
    return await conn.fetch(sql, *f.args)


async def loan_figures_by_month(
    conn: asyncpg.Connection, flt: Sql, months: list[tuple[str, date, date, date]]
) -> list[asyncpg.Record]:
    """One figure set per (label, month start, month end, base date)."""
    f = flt.copy()
    labels = f.arg([m[0] for m in months])
    starts = f.arg([m[1] for m in months])
    ends = f.arg([m[2] for m in months])
    bases = f.arg([m[3] for m in months])
    sql = f"""
    WITH p AS (SELECT * FROM unnest({labels}::text[], {starts}::date[], {ends}::date[], {bases}::date[])
               AS p(label, p_from, p_to, d_base)),
    per AS (
        SELECT p.label AS g, l.borrower_credit_code AS b,
               {_inner_exprs("p.p_from", "p.p_to", "p.p_to", "p.d_base")}
        FROM finance.loans l JOIN p ON l.issued_on <= GREATEST(p.p_to, p.d_base)
        WHERE {f.where_sql}
        GROUP BY p.label, l.borrower_credit_code
    )
    SELECT false AS is_total, g, {_OUTER} FROM per GROUP BY g ORDER BY g
    """
    return await conn.fetch(sql, *f.args)


async def two_increases(conn: asyncpg.Connection, flt: Sql, p_to: date, d_base: date) -> list[asyncpg.Record]:
    f = flt.copy()
    pt, db = f.arg(p_to), f.arg(d_base)
    sql = f"""
    WITH per AS (
        SELECT l.lender, l.borrower_credit_code,
               sum({_bal(pt + "::date")}) AS bal_end, sum({_bal(db + "::date")}) AS bal_base,
               sum({_bal(pt + "::date", True)}) AS inc_end, sum({_bal(db + "::date", True)}) AS inc_base
        FROM finance.loans l
        WHERE {f.where_sql} AND l.issued_on <= GREATEST({pt}::date, {db}::date)
        GROUP BY l.lender, l.borrower_credit_code
    )
    SELECT lender, sum(bal_end) AS bal_end, sum(bal_base) AS bal_base,
           sum(inc_end) AS inc_end, sum(inc_base) AS inc_base,
           count(*) FILTER (WHERE inc_end > 0) AS inc_borrowers_end,
           count(*) FILTER (WHERE inc_base > 0) AS inc_borrowers_base
    FROM per GROUP BY lender ORDER BY lender
    """
    return await conn.fetch(sql, *f.args)


async def applications(
    conn: asyncpg.Connection, flt: Sql, p_from: date, p_to: date, sizes: list[str]
) -> asyncpg.Record:
    """申贷获得率's counts: distinct applicants of `sizes` (the application's size class: the
    registry's for the application year, else the bank's) that applied in the period, those of
    them with an approved application, and the applicants of other or unknown sizes left out
    (`summary_applications` reads the same from the borrower years for a calendar year)."""
    f = flt.copy()
    pf, pt, sz = f.arg(p_from), f.arg(p_to), f.arg(sizes)
    counted = f"l.size_class = ANY({sz}::text[])"
    sql = f"""
    SELECT count(DISTINCT l.borrower_credit_code COLLATE "C") FILTER (WHERE {counted}) AS applied,
           count(DISTINCT l.borrower_credit_code COLLATE "C")
               FILTER (WHERE {counted} AND l.decision = 'approved') AS obtained,
           count(DISTINCT l.borrower_credit_code COLLATE "C")
               FILTER (WHERE l.size_class IS NULL OR NOT {counted}) AS other_applied
    FROM finance.loan_applications l
    WHERE {f.where_sql} AND l.applied_on BETWEEN {pf}::date AND {pt}::date
    """
    return await conn.fetchrow(sql, *f.args)


async def guarantees(
    conn: asyncpg.Connection, flt: Sql, p_from: date, p_to: date
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    f = flt.copy()
    pf, pt = f.arg(p_from), f.arg(p_to)
    in_force = (
        f"(l.starts_on <= {pt}::date AND (l.released_on IS NULL OR l.released_on > {pt}::date) "
        f"AND (l.compensated_on IS NULL OR l.compensated_on > {pt}::date))"
    )
    new = f"(l.starts_on BETWEEN {pf}::date AND {pt}::date)"
    released = (
        f"((l.status = 'released' AND l.released_on BETWEEN {pf}::date AND {pt}::date) OR "
        f"(l.status = 'compensated' AND l.compensated_on BETWEEN {pf}::date AND {pt}::date))"
    )
    comp = f"(l.status = 'compensated' AND l.compensated_on BETWEEN {pf}::date AND {pt}::date)"
    per = f"""
        SELECT l.guarantor,
               count(*) FILTER (WHERE {new}) AS new_count,
               COALESCE(sum(l.guaranteed_amount) FILTER (WHERE {new}), 0) AS new_amount,
               COALESCE(sum(l.guaranteed_amount * l.fee_rate) FILTER (WHERE {new}), 0) AS fee_w,
               COALESCE(sum(l.outstanding_amount) FILTER (WHERE {in_force}), 0) AS in_force,
               COALESCE(sum(l.guaranteed_amount) FILTER (WHERE {released}), 0) AS released,
               COALESCE(sum(l.compensated_amount) FILTER (WHERE {comp}), 0) AS compensated,
               COALESCE(sum(l.recovered_amount) FILTER (WHERE {comp}), 0) AS recovered
        FROM finance.guarantees l
        WHERE {f.where_sql}
        GROUP BY l.guarantor
    """
    rows = await conn.fetch(
        f"""SELECT per.*, i.net_assets, COALESCE(i.small_micro_focused, false) AS small_micro_focused
            FROM ({per}) per LEFT JOIN finance.institutions i ON i.code = per.guarantor
            ORDER BY per.guarantor""",
        *f.args,
    )
    totals = {
        k: sum((r[k] for r in rows), 0)
        for k in ("new_count", "new_amount", "fee_w", "in_force", "released", "compensated", "recovered")
    }
    return totals, rows


def leverage_cap(small_micro_focused: bool):
    return LEVERAGE_CAP_SMALL_MICRO if small_micro_focused else LEVERAGE_CAP


async def smb_gross_issuance(conn: asyncpg.Connection, flt: Sql, start: date, end: date) -> Any:
    """Σ amount of small/micro loans issued within [start, end] (a target's window): gross
    issuance, renewals and refinancing included — shown beside smb_new_loans, never as it."""
    f = flt.copy()
    y0, y1 = f.arg(start), f.arg(end)
    return await conn.fetchval(
        f"""SELECT COALESCE(sum(l.amount), 0) FROM finance.loans l
            WHERE {f.where_sql} AND {SMALL_MICRO}
              AND l.issued_on BETWEEN {y0}::date AND {y1}::date""",
        *f.args,
    )


async def smb_balances(conn: asyncpg.Connection, flt: Sql, start: date, end: date) -> asyncpg.Record:
    """The small/micro loan balance (the balance definition of `_bal`) at `start` and at `end`
    (`summary_smb_balances` reads the same from the month totals when both are month ends)."""
    f = flt.copy()
    d0, d1 = f.arg(start), f.arg(end)
    return await conn.fetchrow(
        f"""SELECT COALESCE(sum({_bal(d0 + "::date")}), 0) AS at_start,
                   COALESCE(sum({_bal(d1 + "::date")}), 0) AS at_end
            FROM finance.loans l
            WHERE {f.where_sql} AND {SMALL_MICRO}
              AND l.issued_on <= GREATEST({d0}::date, {d1}::date)""",
        *f.args,
    )


async def loan_book_reports(
    conn: asyncpg.Connection, lender: str | None, dates: list[date]
) -> dict[tuple[str, date], asyncpg.Record]:
    """The banks' whole-book reports at these period ends, by (lender, period_end): one bank's
    when the statistics are limited to it. A book is the bank's whole book, not a region's."""
    rows = await conn.fetch(
        """SELECT lender, period_end, all_loans_balance, all_loans_borrowers
           FROM finance.loan_book_reports
           WHERE period_end = ANY($1::date[]) AND ($2::text IS NULL OR lender = $2)""",
        sorted(set(dates)),
        lender,
    )
    return {(r["lender"], r["period_end"]): r for r in rows}


async def financing_summary(session: AsyncSession, principal: Principal, code: str):
    """The (loans, active credit lines, guarantees) figures of one enterprise the caller sees: a
    bank its own records, a guarantor only its guarantees."""
    conn = await raw_connection(session)
    lo, li, g = Sql(), Sql(), Sql()
    if principal.kind == "bank":
        lo.where(f"l.lender = {lo.arg(principal.org or '')}")
        li.where(f"l.lender = {li.arg(principal.org or '')}")
        g.where(f"l.lender_code = {g.arg(principal.org or '')}")
    elif principal.kind == "guarantor":
        lo.where("false")
        li.where("false")
        g.where(f"l.guarantor = {g.arg(principal.org or '')}")
    for f in (lo, li, g):
        f.where(f"l.borrower_credit_code = {f.arg(code)}")
    loan_row = await conn.fetchrow(
        f"""SELECT count(*) AS n, COALESCE(sum(amount), 0) AS amount,
                   COALESCE(sum(outstanding_balance) FILTER (WHERE closed_on IS NULL), 0) AS balance,
                   COALESCE(sum(amount) FILTER (WHERE inclusive), 0) AS inclusive_amount
            FROM finance.loans l WHERE {lo.where_sql}""",
        *lo.args,
    )
    line_row = await conn.fetchrow(
        f"""SELECT count(*) AS n, COALESCE(sum(amount), 0) AS amount
            FROM finance.credit_lines l WHERE {li.where_sql} AND l.status = 'active'""",
        *li.args,
    )
    g_row = await conn.fetchrow(
        f"""SELECT count(*) AS n, COALESCE(sum(guaranteed_amount), 0) AS amount
            FROM finance.guarantees l WHERE {g.where_sql}""",
        *g.args,
    )
    return loan_row, line_row, g_row


async def enterprise_in_scope(session: AsyncSession, principal: Principal, code: str) -> bool:
    """Whether the enterprise lies in the caller's region scope: its directory region, else (not
    in the registry) the credit code's area digits."""
    scope = RegionScope.of(principal)
    if not scope.restricted:
        return True
    conn = await raw_connection(session)
    region = await conn.fetchval(
        "SELECT region_code FROM registry.enterprise_directory WHERE credit_code = $1", code
    )
    return scope.covers(code_region(code, region))


# --- month summaries (loan_month_totals, loan_inclusive_borrower_months: models.py, db.py) ---
# Exact for month-aligned periods: `from` the first day of a month, `to` and the base date the last
# day of a month. The service falls back to the loan-level queries above for any other period.

SUMMARY_GROUPS = {None, "city", "county", "lender", "month"}
_SUM_GROUP = {
    "city": "substr(l.borrower_region, 1, 4) || '00'",
    "county": "l.borrower_region",
    "lender": "l.lender",
}


def month_start(d: date) -> date:
    return d.replace(day=1)


def is_month_end(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


def summary_applies(
    p_from: date, p_to: date, d_base: date, region: RegionScope, group_by: str | None
) -> bool:
    return (
        p_from.day == 1
        and is_month_end(p_to)
        and is_month_end(d_base)
        and len(region.prefix or "") in (0, 2, 4, 6)
        and group_by in SUMMARY_GROUPS
    )


_SUMS = """
    COALESCE(sum(l.n_all), 0)::bigint AS n_upto,
    sum(l.n_all) FILTER (WHERE l.month BETWEEN {f} AND {t})::bigint AS n_all,
    sum(l.a_all) FILTER (WHERE l.month BETWEEN {f} AND {t}) AS a_all,
    sum(l.n_sm) FILTER (WHERE l.month BETWEEN {f} AND {t})::bigint AS n_sm,
    sum(l.a_sm) FILTER (WHERE l.month BETWEEN {f} AND {t}) AS a_sm,
    sum(l.n_inc) FILTER (WHERE l.month BETWEEN {f} AND {t})::bigint AS n_inc,
    sum(l.a_inc) FILTER (WHERE l.month BETWEEN {f} AND {t}) AS a_inc,
    sum(l.rate_w) FILTER (WHERE l.month BETWEEN {f} AND {t}) AS rate_w,
    COALESCE(sum(l.bal_delta) FILTER (WHERE l.month <= {t}), 0) AS bal_end,
    COALESCE(sum(l.bal_delta) FILTER (WHERE l.month <= {b}), 0) AS bal_base,
    COALESCE(sum(l.inc_delta) FILTER (WHERE l.month <= {t}), 0) AS inc_end,
    COALESCE(sum(l.inc_delta) FILTER (WHERE l.month <= {b}), 0) AS inc_base
"""


def _cells(f: Sql, region: RegionScope, lender: str | None, level: int, by_lender: bool) -> str:
    """WHERE over loan_inclusive_borrower_months `c`: the cells of one dedup level."""
    clauses = [f"length(c.scope_region) = {int(level)}"]
    if region.restricted:
        clauses.append(region.where("c.scope_region", f.arg))
    if lender:
        clauses.append(f"c.scope_lender = {f.arg(lender)}")
    elif by_lender:
        clauses.append("c.scope_lender <> ''")
    else:
        clauses.append("c.scope_lender = ''")
    return " AND ".join(clauses)


async def summary_figures(
    conn: asyncpg.Connection,
    flt: Sql,
    region: RegionScope,
    lender: str | None,
    p_from: date,
    p_to: date,
    d_base: date,
    group_by: str | None,
) -> dict[tuple[bool, str | None], dict]:
    """The rows of `loan_figures` by (is_total, group), read from the month summaries — all but
    first-time borrowers, which `first_time_borrowers` counts and `with_first_time` adds."""
    f = flt.copy()
    pf, pt, db = f.arg(month_start(p_from)), f.arg(month_start(p_to)), f.arg(month_start(d_base))
    g = _SUM_GROUP.get(group_by or "")
    head, sets = (
        (f"GROUPING({g}) = 1 AS is_total, {g} AS g", f"(({g}), ())") if g else ("true, NULL::text", "(())")
    )
    sums = await conn.fetch(
        f"""SELECT {head}, {_SUMS.format(f=pf, t=pt, b=db)}
            FROM finance.loan_month_totals l
            WHERE {f.where_sql} AND l.month <= GREATEST({pt}::date, {db}::date)
            GROUP BY GROUPING SETS {sets}""",
        *f.args,
    )
    rows = {(r[0], r[1]): {**dict(r), "is_total": r[0], "g": r[1]} for r in sums}
    for r in rows.values():
        r.update(inc_borrowers_end=0, inc_borrowers_base=0, first_time=0)

    plen = len(region.prefix or "")
    levels: list[tuple[bool, str, str]] = [(True, "NULL::text", _cells_args(plen, False))]
    if group_by == "city":
        levels.append((False, "substr(c.scope_region, 1, 4) || '00'", _cells_args(max(plen, 4), False)))
    elif group_by == "county":
        levels.append((False, "c.scope_region", _cells_args(6, False)))
    elif group_by == "lender":
        levels.append((False, "c.scope_lender", _cells_args(plen, True)))
    for is_total, key, (level, by_lender) in levels:
        c = Sql()
        cm_t, cm_b = c.arg(month_start(p_to)), c.arg(month_start(d_base))
        where = _cells(c, region, lender, level, by_lender)
        for r in await conn.fetch(
            f"""SELECT {key} AS g,
                       COALESCE(sum(c.delta) FILTER (WHERE c.month <= {cm_t}::date), 0) AS e,
                       COALESCE(sum(c.delta) FILTER (WHERE c.month <= {cm_b}::date), 0) AS b
                FROM finance.loan_inclusive_borrower_months c
                WHERE {where} AND c.month <= GREATEST({cm_t}::date, {cm_b}::date)
                GROUP BY 1""",
            *c.args,
        ):
            row = rows.setdefault((is_total, r["g"]), _empty(is_total, r["g"]))
            row["inc_borrowers_end"], row["inc_borrowers_base"] = r["e"], r["b"]

    return rows


async def first_time_borrowers(
    conn: asyncpg.Connection, flt: Sql, p_from: date, p_to: date, group_by: str | None
) -> list[asyncpg.Record]:
    """(is_total, group, distinct borrowers of first loans issued in the period), by an
    index-only scan of the partial index over first loans (`summary_first_time_borrowers` reads
    the same from the borrower years for a calendar year)."""
    f2 = flt.copy()
    a, b = f2.arg(p_from), f2.arg(p_to)
    g2 = GROUP_EXPR.get(group_by or "") if group_by in _SUM_GROUP else None
    head, sets = (f"GROUPING({g2}) = 1, {g2}", f"(({g2}), ())") if g2 else ("true, NULL::text", "(())")
    return await conn.fetch(
        # Credit codes are ASCII: byte order ("C") sorts the distinct set far faster than the
        # database's collation and counts the same (equality does not depend on collation).
        f"""SELECT {head}, count(DISTINCT l.borrower_credit_code COLLATE "C")
            FROM finance.loans l
            WHERE {f2.where_sql} AND l.is_first_loan AND l.issued_on BETWEEN {a}::date AND {b}::date
            GROUP BY GROUPING SETS {sets}""",
        *f2.args,
    )


def with_first_time(rows: dict[tuple[bool, str | None], dict], first_time: list[Any]) -> list[dict]:
    """The summary rows with their first-time borrowers, in `loan_figures` order. Group rows
    exist only where the loans query would have them: some loan issued by the later date."""
    for r in first_time:
        rows.setdefault((r[0], r[1]), _empty(r[0], r[1]))["first_time"] = r[2]
    return sorted(
        (r for r in rows.values() if r["is_total"] or r["n_upto"] > 0),
        key=lambda r: (r["is_total"], r["g"] or ""),
    )


def _cells_args(level: int, by_lender: bool) -> tuple[int, bool]:
    return level, by_lender


def _empty(is_total: bool, g: str | None) -> dict:
    return {
        "is_total": is_total, "g": g, "n_upto": 0, "n_all": None, "a_all": None, "n_sm": None, "a_sm": None,
        "n_inc": None, "a_inc": None, "rate_w": None, "bal_end": 0, "bal_base": 0, "inc_end": 0,
        "inc_base": 0, "inc_borrowers_end": 0, "inc_borrowers_base": 0, "first_time": 0,
    }  # fmt: skip


async def summary_two_increases(
    conn: asyncpg.Connection, flt: Sql, region: RegionScope, lender: str | None, p_to: date, d_base: date
) -> list[dict]:
    f = flt.copy()
    pt, db = f.arg(month_start(p_to)), f.arg(month_start(d_base))
    out = {
        r["lender"]: dict(r)
        for r in await conn.fetch(
            f"""SELECT l.lender,
                       COALESCE(sum(l.bal_delta) FILTER (WHERE l.month <= {pt}), 0) AS bal_end,
                       COALESCE(sum(l.bal_delta) FILTER (WHERE l.month <= {db}), 0) AS bal_base,
                       COALESCE(sum(l.inc_delta) FILTER (WHERE l.month <= {pt}), 0) AS inc_end,
                       COALESCE(sum(l.inc_delta) FILTER (WHERE l.month <= {db}), 0) AS inc_base,
                       0 AS inc_borrowers_end, 0 AS inc_borrowers_base
                FROM finance.loan_month_totals l
                WHERE {f.where_sql} AND l.month <= GREATEST({pt}::date, {db}::date)
                GROUP BY l.lender HAVING sum(l.n_all) > 0""",
            *f.args,
        )
    }
    c = Sql()
    cm_t, cm_b = c.arg(month_start(p_to)), c.arg(month_start(d_base))
    where = _cells(c, region, lender, len(region.prefix or ""), True)
    for r in await conn.fetch(
        f"""SELECT c.scope_lender AS lender,
                   COALESCE(sum(c.delta) FILTER (WHERE c.month <= {cm_t}::date), 0) AS e,
                   COALESCE(sum(c.delta) FILTER (WHERE c.month <= {cm_b}::date), 0) AS b
            FROM finance.loan_inclusive_borrower_months c
            WHERE {where} AND c.month <= GREATEST({cm_t}::date, {cm_b}::date)
            GROUP BY 1""",
        *c.args,
    ):
        if r["lender"] in out:
            out[r["lender"]]["inc_borrowers_end"], out[r["lender"]]["inc_borrowers_base"] = r["e"], r["b"]
    return [out[k] for k in sorted(out)]


async def summary_smb_gross_issuance(conn: asyncpg.Connection, flt: Sql, start: date, end: date) -> Any:
    """`smb_gross_issuance` from the month totals: for a window of whole months only."""
    f = flt.copy()
    y0, y1 = f.arg(start.replace(day=1)), f.arg(end.replace(day=1))
    return await conn.fetchval(
        f"""SELECT COALESCE(sum(l.a_sm), 0) FROM finance.loan_month_totals l
            WHERE {f.where_sql} AND l.month BETWEEN {y0}::date AND {y1}::date""",
        *f.args,
    )


async def summary_smb_balances(conn: asyncpg.Connection, flt: Sql, start: date, end: date) -> asyncpg.Record:
    """`smb_balances` from the month totals (Σ sm_delta over the months up to each date, as
    `summary_two_increases` sums bal_delta): for month-end dates only."""
    f = flt.copy()
    d0, d1 = f.arg(month_start(start)), f.arg(month_start(end))
    return await conn.fetchrow(
        f"""SELECT COALESCE(sum(l.sm_delta) FILTER (WHERE l.month <= {d0}::date), 0) AS at_start,
                   COALESCE(sum(l.sm_delta) FILTER (WHERE l.month <= {d1}::date), 0) AS at_end
            FROM finance.loan_month_totals l
            WHERE {f.where_sql} AND l.month <= GREATEST({d0}::date, {d1}::date)""",
        *f.args,
    )


# --- borrower years (loan_borrower_years, loan_borrower_year_counts: models.py, db.py) ---
# Distinct borrowers of a calendar year: exact for a period that is one whole calendar year; the
# service falls back to `applications` and `first_time_borrowers` for any other period.


def calendar_year(p_from: date, p_to: date, region: RegionScope) -> int | None:
    """The year the borrower-year summaries answer the period for, or None (the scans do). The
    scope must be one region cell: a county that succeeded retired codes (`county_codes`) covers
    several county cells, whose sum could count a borrower with records in two of them twice."""
    whole_year = p_from == date(p_from.year, 1, 1) and p_to == date(p_from.year, 12, 31)
    plen = len(region.prefix or "")
    one_cell = plen in (0, 2, 4) or (plen == 6 and len(region.county_codes) == 1)
    return p_from.year if whole_year and one_cell else None


async def summary_applications(
    conn: asyncpg.Connection, region: RegionScope, lender: str | None, year: int
) -> asyncpg.Record:
    """`applications` for one calendar year, from the year counts of the scope's cell (summed over
    the writers' rows)."""
    c = Sql()
    y = c.arg(year)
    where = _cells(c, region, lender, len(region.prefix or ""), False)
    return await conn.fetchrow(
        f"""SELECT COALESCE(sum(c.applied), 0)::bigint AS applied,
                   COALESCE(sum(c.obtained), 0)::bigint AS obtained,
                   COALESCE(sum(c.other_applied), 0)::bigint AS other_applied
            FROM finance.loan_borrower_year_counts c
            WHERE c.year = {y} AND {where}""",
        *c.args,
    )


async def summary_first_time_borrowers(
    conn: asyncpg.Connection, region: RegionScope, lender: str | None, year: int, group_by: str | None
) -> list[tuple[bool, str | None, int]]:
    """`first_time_borrowers` for one calendar year, from the year counts: the total at the scope's
    level, the groups at theirs (as `summary_figures` reads the inclusive borrowers)."""
    plen = len(region.prefix or "")
    levels: list[tuple[bool, str, int, bool]] = [(True, "NULL::text", plen, False)]
    if group_by == "city":
        levels.append((False, "substr(c.scope_region, 1, 4) || '00'", max(plen, 4), False))
    elif group_by == "county":
        levels.append((False, "c.scope_region", 6, False))
    elif group_by == "lender":
        levels.append((False, "c.scope_lender", plen, True))
    out: list[tuple[bool, str | None, int]] = []
    for is_total, key, level, by_lender in levels:
        c = Sql()
        y = c.arg(year)
        where = _cells(c, region, lender, level, by_lender)
        rows = await conn.fetch(
            f"""SELECT {key} AS g, COALESCE(sum(c.first_time), 0)::bigint AS n
                FROM finance.loan_borrower_year_counts c
                WHERE c.year = {y} AND {where}
                GROUP BY 1 HAVING sum(c.first_time) > 0""",
            *c.args,
        )
        out += [(is_total, r["g"], r["n"]) for r in rows]
        if is_total and not rows:
            out.append((True, None, 0))
    return out
