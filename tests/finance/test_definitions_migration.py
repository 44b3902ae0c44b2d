"""Migration 0023_finance_definitions re-derives the inclusive flag of the stored loans: with no
line, the cap applies to the customer's loans at the lender on the issue date."""

import asyncio

import asyncpg
from alembic import command

from services.common.db import plain_url
from tests.registry_data import new_credit_code
from tests.test_migrations import _config, _fresh_database

COLUMNS = (
    "lender, loan_ref, borrower_credit_code, borrower_name, borrower_size, product, amount, annual_rate,"
    " issued_on, matures_on, renewal_type, is_first_loan, outstanding_balance, status, borrower_region,"
    " matched, size_class, size_source, line_total, inclusive, inclusive_reason, rule_set_version"
)


def test_stored_lineless_loans_of_one_customer_are_judged_together(database_url):
    url = _fresh_database(database_url, "eaglet_finance_definitions")
    cfg = _config(url)
    command.upgrade(cfg, "0022_retired_regions")
    one, other = new_credit_code("330106"), new_credit_code("330106")

    async def run(sql, *args, fetch=False):
        conn = await asyncpg.connect(plain_url(url))
        try:
            return await (conn.fetch(sql, *args) if fetch else conn.execute(sql, *args))
        finally:
            await conn.close()

    rows = [
        # one customer, no line: 6M (2022-03-01) and 5M (2022-04-01), each within the cap alone
        ("L1", one, "6000000.00", "2022-03-01", None, True, "no_line_amount_within_cap"),
        ("L2", one, "5000000.00", "2022-04-01", None, True, "no_line_amount_within_cap"),
        # another customer with a line: its reason stands
        ("L3", other, "2000000.00", "2022-03-01", "8000000.00", True, "line_total_within_cap"),
    ]
    values = ", ".join(
        f"('B1', '{ref}', '{code}', '企业', 'small', 'credit', {amount}, 4.35, '{issued}', '2023-06-01', 'new',"
        f" false, {amount}, 'outstanding', '330106', false, 'small', 'bank', {line or 'NULL'}, {flag},"
        f" '{reason}', 'fin-2024.2')"
        for ref, code, amount, issued, line, flag, reason in rows
    )
    asyncio.run(run(f"INSERT INTO finance.loans ({COLUMNS}) VALUES {values}"))
    command.upgrade(cfg, "0023_finance_definitions")
    got = asyncio.run(
        run(
            "SELECT loan_ref, borrower_kind, loans_total::text, inclusive, inclusive_reason"
            " FROM finance.loans ORDER BY loan_ref",
            fetch=True,
        )
    )
    # L1: 6M alone on 2022-03-01; L2: 5 + 6 = 11M > 10M; L3 judged by its line (its loans: 2M)
    assert [tuple(r) for r in got] == [
        ("L1", "enterprise", "6000000.00", True, "no_line_loans_total_within_cap"),
        ("L2", "enterprise", "11000000.00", False, "no_line_loans_total_over_cap"),
        ("L3", "enterprise", "2000000.00", True, "line_total_within_cap"),
    ]
    command.downgrade(cfg, "0022_retired_regions")
    back = asyncio.run(
        run("SELECT loan_ref, inclusive, inclusive_reason FROM finance.loans ORDER BY 1", fetch=True)
    )
    assert [tuple(r) for r in back] == [
        ("L1", True, "no_line_amount_within_cap"),
        ("L2", True, "no_line_amount_within_cap"),
        ("L3", True, "line_total_within_cap"),
    ]
