"""Migration 0029_lender_summaries reshapes the loan summaries (borrower months keyed by lender, a
row per borrower to lock) and rebuilds them from the loans: the same figures as the summaries the
earlier triggers kept, up and down again."""

import asyncio

import asyncpg
from alembic import command

from services.common.db import plain_url
from tests.registry_data import new_credit_code
from tests.test_migrations import _config, _fresh_database

# every loan field the summaries read; months, closures, flags and lenders vary, borrowers shared
INSERT = """
    INSERT INTO finance.loans (lender, loan_ref, borrower_credit_code, borrower_region, borrower_name,
        borrower_size, product, amount, annual_rate, issued_on, matures_on, renewal_type, is_first_loan,
        outstanding_balance, status, closed_on, matched, size_class, size_source, inclusive,
        inclusive_reason, rule_set_version)
    SELECT 'B' || (i % 3), 'L' || i, b.code, b.region, '企业', 'small', 'credit', 1000000 + i, 4.35,
           make_date(2021 + i % 2, 1 + i % 12, 10), '2024-12-31', 'new', i % 7 = 0,
           CASE WHEN i % 4 = 0 THEN 0 ELSE 1000000 + i END,
           CASE WHEN i % 4 = 0 THEN 'repaid' ELSE 'outstanding' END,
           CASE WHEN i % 4 = 0 THEN make_date(2022 + i % 2, 1 + (i * 5) % 12, 1) END,
           false, 'small', 'bank', i % 5 <> 0, 'no_line_loans_total_within_cap', 'test'
    FROM generate_series(0, 239) AS i
    JOIN (SELECT row_number() OVER () - 1 AS k, code, substr(code, 3, 6) AS region
          FROM unnest($1::text[]) AS code) b ON b.k = i % 30"""

FIGURES = [
    "SELECT lender, borrower_region, product, month, n_all, a_all, n_sm, a_sm, n_inc, a_inc, rate_w,"
    " bal_delta, inc_delta FROM finance.loan_month_totals WHERE (n_all, bal_delta, inc_delta) <> (0, 0, 0)"
    " ORDER BY 1, 2, 3, 4",
    "SELECT borrower_credit_code, scope_region, scope_lender, first_month, end_month"
    " FROM finance.loan_inclusive_islands ORDER BY 1, 2, 3, 4, 5",
    "SELECT scope_region, scope_lender, month, sum(delta) FROM finance.loan_inclusive_borrower_months"
    " GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3",
]


def test_the_rebuilt_summaries_hold_the_figures_the_earlier_triggers_kept(database_url):
    url = _fresh_database(database_url, "eaglet_lender_summaries")
    cfg = _config(url)
    command.upgrade(cfg, "0027_submissions")
    borrowers = [new_credit_code(r) for r in ("330106", "330203", "330302") for _ in range(10)]

    async def run(sql, *args):
        conn = await asyncpg.connect(plain_url(url))
        try:
            return await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def figures():
        conn = await asyncpg.connect(plain_url(url))
        try:
            return [[tuple(r) for r in await conn.fetch(q)] for q in FIGURES]
        finally:
            await conn.close()

    asyncio.run(run(INSERT, borrowers))
    before = asyncio.run(figures())
    assert all(before), "the earlier triggers kept summaries of every kind"
    command.upgrade(cfg, "0029_lender_summaries")
    assert asyncio.run(figures()) == before
    command.downgrade(cfg, "0027_submissions")
    assert asyncio.run(figures()) == before
