"""All loan SQL: the set-based upsert with derived fields, scoped reads, the flag recomputation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.code_region import code_region_sql
from services.common.context import request_id_var
from services.common.db import local_settings, raw_connection
from services.common.export import Statement, compiled
from services.common.pagination import PageParams, keyset
from services.common.reader_select import fetch_objects
from services.common.readpool import Reader
from services.finance import bulk
from services.finance.ledgers import LOANS
from services.finance.loans.models import Loan
from services.finance.loans.schemas import LoanFilters
from services.finance.rules import INCLUSIVE_LINE_CAP
from services.finance.scope import visible

REPORTED = [
    "loan_ref",
    "borrower_credit_code",
    "borrower_name",
    "borrower_size",
    "product",
    "amount",
    "annual_rate",
    "issued_on",
    "matures_on",
    "renewal_type",
    "is_first_loan",
    "credit_line_ref",
    "guarantee_ref",
    "outstanding_balance",
    "status",
    "closed_on",
    "borrower_kind",
    "customer_ref",
]

CAP = f"{INCLUSIVE_LINE_CAP}::numeric"


def active_lines_total(lender: str, borrower: str, on: str) -> str:
    """SQL: total amount of the borrower's credit lines at the lender active on date `on`
    (granted on or before, not expired before, not closed on or before); NULL when none."""
    return f"""(SELECT sum(cl.amount) FROM finance.credit_lines cl
                WHERE cl.lender = {lender} AND cl.borrower_credit_code = {borrower}
                  AND cl.granted_on <= {on} AND cl.expires_on >= {on}
                  AND (cl.closed_on IS NULL OR cl.closed_on > {on}))"""


def customer_loans_totals(subjects: str, others: str) -> str:
    """SQL: (k, total) — for each loan of `subjects`, its customer's total loans at the lender on
    its issue date: its own amount plus the amounts of the customer's other loans (`others`)
    outstanding that day (issued on or before it, not closed on or before it). The customer is
    the credit code and, for a business owner, the bank's customer ref (an owner is a customer
    apart from the enterprise they own). Amounts, not balances: the platform keeps no repayment
    schedule, and a loan is credit used up to its amount.

    Both relations have columns (k = loan_ref, lender, borrower_credit_code, customer_ref,
    issued_on, amount; `others` also closed_on). Set-based: one hash join, not a sub-query per loan."""
    return f"""
        SELECT a.k, a.amount + COALESCE(sum(o.amount), 0) AS total
        FROM ({subjects}) a
        LEFT JOIN ({others}) o
          ON o.lender = a.lender AND o.borrower_credit_code = a.borrower_credit_code
         AND COALESCE(o.customer_ref, '') = COALESCE(a.customer_ref, '') AND o.k <> a.k
         AND o.issued_on <= a.issued_on AND (o.closed_on IS NULL OR o.closed_on > a.issued_on)
        GROUP BY a.k, a.amount"""


_LOAN_FACTS = "lender, borrower_credit_code, customer_ref, issued_on, closed_on, amount"
_STAGE = bulk.stage_of("loans")
# the batch's loans, and the customer's other loans: the batch's and those stored (but the
# stored versions of the loans the batch rewrites)
_STAGED = f"SELECT loan_ref AS k, $1::text AS lender, borrower_credit_code, customer_ref, issued_on, closed_on, amount FROM {_STAGE}"
_BATCH_TOTALS = customer_loans_totals(
    _STAGED,
    f"""{_STAGED} UNION ALL
        SELECT o.loan_ref, {", ".join("o." + c for c in _LOAN_FACTS.split(", "))} FROM finance.loans o
        WHERE o.lender = $1 AND o.borrower_credit_code IN (SELECT borrower_credit_code FROM {_STAGE})
          AND o.loan_ref NOT IN (SELECT loan_ref FROM {_STAGE})""",
)


def inclusive_sql(kind: str, size: str, line_total: str, loans_total: str) -> tuple[str, str]:
    """SQL for (inclusive, inclusive_reason) — the rule of `inclusive_of`, which
    tests/finance/test_definitions.py holds equal to this over every case.

    普惠型小微企业贷款 (domain.md §6): a loan to a small or micro enterprise, to an individual
    business (个体工商户, not sized by the 2017 rules), or a business loan to the owner of a small or
    micro enterprise (sized by that enterprise), whose customer's total credit at the lender is
    ≤ the cap: its active lines on the issue date, or with no line its loans then (never the one
    loan alone). A business owner's credit is its loans: lines are granted to credit codes."""
    eligible = f"({kind} = 'individual_business' OR {size} IN ('small', 'micro'))"
    flag = f"({eligible} AND COALESCE({line_total}, {loans_total}) <= {CAP})"
    reason = f"""(CASE WHEN NOT {eligible} THEN 'not_small_micro'
                 WHEN {line_total} IS NULL AND {loans_total} <= {CAP} THEN 'no_line_loans_total_within_cap'
                 WHEN {line_total} IS NULL THEN 'no_line_loans_total_over_cap'
                 WHEN {line_total} <= {CAP} THEN 'line_total_within_cap'
                 ELSE 'line_total_over_cap' END)"""
    return flag, reason


def inclusive_of(kind: str, size: str, line_total: Decimal | None, loans_total: Decimal) -> tuple[bool, str]:
    """`inclusive_sql` in Python (the seed's generated loans)."""
    if not (kind == "individual_business" or size in ("small", "micro")):
        return False, "not_small_micro"
    if line_total is None:
        ok = loans_total <= INCLUSIVE_LINE_CAP
        return ok, "no_line_loans_total_within_cap" if ok else "no_line_loans_total_over_cap"
    ok = line_total <= INCLUSIVE_LINE_CAP
    return ok, "line_total_within_cap" if ok else "line_total_over_cap"


def _lines_of(kind: str, lender: str, borrower: str, on: str) -> str:
    """The line total a loan is judged by: none for a business owner (lines are the enterprise's)."""
    return (
        f"(CASE WHEN {kind} = 'business_owner' THEN NULL ELSE {active_lines_total(lender, borrower, on)} END)"
    )


def size_join(date_col: str) -> str:
    """SQL join `es`: the registry's size class of the staged borrower for the year of `date_col`
    (loans: the issue year; applications: the application year)."""
    return f"""
        LEFT JOIN LATERAL (SELECT z.size_class FROM registry.enterprise_sizes z
                           WHERE z.credit_code = s.borrower_credit_code
                             AND z.year = extract(year FROM {date_col})::int LIMIT 1) es ON true
    """


# One home for the size a record is counted by: the registry's, else the size the bank reported.
SIZE_CLASS = "COALESCE(es.size_class, s.borrower_size)"
SIZE_SOURCE = (
    "(CASE WHEN es.size_class IS NOT NULL THEN 'registry' WHEN s.borrower_size IS NOT NULL THEN 'bank' END)"
)
_LINES = _lines_of("s.borrower_kind", "$1", "s.borrower_credit_code", "s.issued_on")
_flag, _reason = inclusive_sql("s.borrower_kind", SIZE_CLASS, "lt.total", "lt.loans_total")

SPEC = bulk.UpsertSpec(
    table="loans",
    owner_col="lender",
    key_col="loan_ref",
    columns=REPORTED,
    entity_type="loan",
    derived={
        "borrower_region": code_region_sql("s.borrower_credit_code", "d.region_code"),
        "matched": "(d.credit_code IS NOT NULL)",
        "size_class": SIZE_CLASS,
        "size_source": SIZE_SOURCE,
        "line_total": "lt.total",
        "loans_total": "lt.loans_total",
        "inclusive": _flag,
        "inclusive_reason": _reason,
    },
    joins=f"""
        LEFT JOIN LATERAL (SELECT dd.credit_code, dd.region_code FROM registry.enterprise_directory dd
                           WHERE dd.credit_code = s.borrower_credit_code LIMIT 1) d ON true
        {size_join("s.issued_on")}
        LEFT JOIN ({_BATCH_TOTALS}) ct ON ct.k = s.loan_ref
        LEFT JOIN LATERAL (
            SELECT {_LINES} AS total, ct.total AS loans_total) lt
          ON true
    """,
)


async def known_borrowers(session: AsyncSession, codes: list[str]) -> set[str]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT credit_code FROM registry.enterprise_directory WHERE credit_code = ANY($1::text[])", codes
    )
    return {r["credit_code"] for r in rows}


async def borrowers_of(session: AsyncSession, lender: str, refs: list[str]) -> dict[str, date]:
    """Borrowers currently on these loans, each with the earliest issue date of them (before the
    upsert: a loan may change borrower or date). One read of the ledger's key table."""
    conn = await raw_connection(session)
    rows = await conn.fetch(
        f"SELECT borrower_credit_code, min(issued_on) FROM finance.{LOANS.keys} "
        "WHERE lender = $1 AND loan_ref = ANY($2::text[]) GROUP BY borrower_credit_code",
        lender,
        refs,
    )
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True)
class Beside:
    """A loan batch just upserted, for `recompute_inclusive`: its refs, and per borrower the
    earliest issue date among the versions it touched (each loan as stored before and as written
    now). A loan's totals count the customer's loans issued on or before its own issue date, so a
    stored loan issued before that date counts none of them, before or after: it cannot move."""

    refs: list[str]
    since: dict[str, date]


async def known_line_refs(session: AsyncSession, lender: str, refs: list[str]) -> set[str]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT line_ref FROM finance.credit_lines WHERE lender = $1 AND line_ref = ANY($2::text[])",
        lender,
        refs,
    )
    return {r["line_ref"] for r in rows}


async def known_guarantee_refs(session: AsyncSession, lender: str, refs: list[str]) -> set[str]:
    conn = await raw_connection(session)
    rows = await conn.fetch(
        "SELECT guarantee_ref FROM finance.guarantees WHERE lender_code = $1 AND guarantee_ref = ANY($2::text[])",
        lender,
        refs,
    )
    return {r["guarantee_ref"] for r in rows}


async def recompute_inclusive_in(
    session: AsyncSession,
    lender: str,
    borrowers: list[str],
    principal: Principal,
    *,
    beside: Beside | None = None,
) -> int:
    """`recompute_inclusive` inside the request's unit of work."""
    return await recompute_inclusive(
        await raw_connection(session), lender, borrowers, principal, beside=beside
    )


async def recompute_inclusive(
    conn: asyncpg.Connection,
    lender: str,
    borrowers: list[str],
    principal: Principal,
    *,
    beside: Beside | None = None,
) -> int:
    """Credit lines or loans changed for these borrowers at this lender: recompute their loans'
    line and loan totals and inclusive flags in one statement, logging each loan whose flag or
    basis changed (`reclassified`); return how many.

    `beside`: a loan batch just upserted (its refs and dates), whose own loans are left out. The
    upsert derived them by the same rule from the same loans and lines (SPEC's `_BATCH_TOTALS`: the
    batch's loans and the stored ones beside them, under the institution's turn,
    `hold_institution`), so re-deriving them would find nothing to change; of the stored loans
    beside the batch only those issued on or after the borrower's `since` date can move. When no
    such loan exists there is nothing to do and no statement runs. A credit-line batch passes
    none: every loan of its borrowers may move."""
    if not borrowers:
        return 0
    total = _lines_of("l.borrower_kind", "l.lender", "l.borrower_credit_code", "l.issued_on")
    theirs = (
        f"SELECT loan_ref AS k, {_LOAN_FACTS} FROM finance.loans "
        "WHERE lender = $1 AND borrower_credit_code = ANY($2::text[])"
    )
    # the loans re-derived: every loan of the borrowers, or those beside the batch ($7, named
    # rather than "not the batch's": the planner takes `<> ALL` of thousands of refs for a filter
    # that leaves one row and then nests loops over the borrowers' loans, past the timeout)
    subjects = theirs + (" AND loan_ref = ANY($7::text[])" if beside is not None else "")
    flag, reason = inclusive_sql("x.borrower_kind", "x.size_class", "x.total", "x.loans_total")
    sql = f"""
    WITH ct AS ({customer_loans_totals(subjects, theirs)}),
    x AS (
        SELECT l.id, l.borrower_credit_code, l.issued_on, l.borrower_kind, l.size_class, {total} AS total,
               ct.total AS loans_total
        FROM finance.loans l JOIN ct ON ct.k = l.loan_ref
        WHERE l.lender = $1 AND l.borrower_credit_code = ANY($2::text[])
    ),
    y AS (
        SELECT x.id, x.borrower_credit_code, x.issued_on, x.total, x.loans_total, {flag} AS inclusive,
               {reason} AS inclusive_reason
        FROM x
    ),
    up AS (
        UPDATE finance.loans l
           SET line_total = y.total, loans_total = y.loans_total, inclusive = y.inclusive,
               inclusive_reason = y.inclusive_reason, updated_at = now()
          FROM y
         -- the ledger's primary key (services/finance/ledgers.py): each row found in its partition
         WHERE l.borrower_credit_code = y.borrower_credit_code AND l.issued_on = y.issued_on AND l.id = y.id
           AND l.lender = $1 AND l.borrower_credit_code = ANY($2::text[])
           AND (l.line_total, l.loans_total, l.inclusive, l.inclusive_reason)
               IS DISTINCT FROM (y.total, y.loans_total, y.inclusive, y.inclusive_reason)
        -- the versions replaced and written (PostgreSQL 18), only of the loans that changed
        RETURNING new.lender, new.loan_ref, to_jsonb(old) AS before, to_jsonb(new) AS after
    )
    INSERT INTO finance.changes
        (actor_subject, actor_kind, actor_org, action, entity_type, entity_key, before, after, request_id)
    SELECT $3, $4, $5, 'reclassified', 'loan', up.lender || '/' || up.loan_ref, up.before, up.after, $6
    FROM up
    """
    # Planned for each call's own borrowers, never the prepared statement's generic plan (which
    # PostgreSQL adopts after five runs on a connection): that plan knows neither the lender nor
    # how many borrowers, cannot prune the ledger's partitions, and on a bank with 25,000 loans
    # ran past the statement timeout where the call's own plan takes under a second.
    # Joined by hash, never by nested loops: the customers' totals pair each loan with the other
    # loans of its customer (equal lender, credit code and customer ref), and a lender whose rows
    # the statistics have not seen yet (a new bank, a file's later chunks before autovacuum's
    # ANALYZE) is estimated at a row or two, for which the planner nests a loop over every loan of
    # the borrowers for each of them: 11,987 × 5,576 pairs and 10 s for one 5,000-loan batch, where
    # the whole re-derivation takes 0.6–0.7 s by hash (docs/finance.md, "The customers' totals
    # joined by hash").
    status = "UPDATE 0"
    async with local_settings(conn, {"plan_cache_mode": "force_custom_plan", "enable_nestloop": "off"}):
        extra = []
        if beside is not None:
            # the stored loans beside the batch and their borrowers; none: nothing can have moved
            found = await conn.fetchrow(
                "SELECT array_agg(DISTINCT l.borrower_credit_code) AS borrowers, array_agg(l.loan_ref) AS refs"
                " FROM unnest($2::text[], $3::date[]) AS b(code, since) JOIN finance.loans l"
                " ON l.lender = $1 AND l.borrower_credit_code = b.code AND l.issued_on >= b.since"
                " WHERE l.loan_ref <> ALL($4::text[])",
                lender,
                borrowers,
                [beside.since[b] for b in borrowers],
                beside.refs,
            )
            borrowers, extra = found["borrowers"], [found["refs"]]
        if borrowers:
            args = [lender, borrowers, principal.sub, principal.kind, principal.org, request_id_var.get()]
            status = await conn.execute(sql, *args, *extra)
    return int(status.split()[-1])


def _scoped(principal: Principal):
    return select(Loan).where(visible(principal, region_col=Loan.borrower_region, bank_col=Loan.lender))


async def get(session: AsyncSession, principal: Principal, lender: str, loan_ref: str) -> Loan | None:
    stmt = _scoped(principal).where(Loan.lender == lender, Loan.loan_ref == loan_ref)
    return (await session.execute(stmt)).scalar_one_or_none()


def loans_query(principal: Principal, f: LoanFilters) -> Select:
    """The loans the caller sees that match the list's filters (the list and the export)."""
    stmt = _scoped(principal)
    if f.borrower:
        stmt = stmt.where(Loan.borrower_credit_code == f.borrower)
    if f.lender:
        stmt = stmt.where(Loan.lender == f.lender)
    if f.issued_from:
        stmt = stmt.where(Loan.issued_on >= f.issued_from)
    if f.issued_to:
        stmt = stmt.where(Loan.issued_on <= f.issued_to)
    if f.status:
        stmt = stmt.where(Loan.status == f.status)
    if f.product:
        stmt = stmt.where(Loan.product == f.product)
    if f.inclusive is not None:
        stmt = stmt.where(Loan.inclusive.is_(f.inclusive))
    if f.unmatched is not None:
        stmt = stmt.where(Loan.matched.is_(not f.unmatched))
    return stmt


async def list_loans(reads: Reader, principal: Principal, params: PageParams, f: LoanFilters) -> list[Any]:
    """A page of the list, on the read pool (a replica's copy when one is configured)."""
    return await fetch_objects(reads, keyset(loans_query(principal, f), [Loan.id], params))


def export_statement(principal: Principal, f: LoanFilters, columns: list[str]) -> Statement:
    """The list's loans (same scope, same filters, same order) as the export reads them."""
    stmt = loans_query(principal, f).order_by(Loan.id)
    return compiled(stmt.with_only_columns(*(Loan.__table__.c[c] for c in columns)))
