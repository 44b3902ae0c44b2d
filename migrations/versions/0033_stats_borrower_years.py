"""Summaries for the three statistics that read the ledgers (docs/scaling.md, "Finance statistics
over 20,000,000 loans"): the small/micro balance deltas in the month totals (`sm_delta`, for the
5000亿 target's balances), and borrower years for 申贷获得率 and 首贷户 (`loan_borrower_years`,
one row per borrower, calendar year, lender cell and county with its flags, and
`loan_borrower_year_counts`, the distinct borrowers per year and cell), kept by the loans'
statement triggers and new ones on `loan_applications` (services/finance/stats/db.py, which says
what each holds). The loan-summary functions are replaced by their declarations and every summary
rebuilt from the ledgers (`stats_db.REBUILD`: the month totals gain their new column, the other
figures stay the same).

The worker's submission task writes loans and applications, so it keeps the new tables (as 0027).
The downgrade restores the functions 0029 declared, drops the applications' triggers, the tables
and the column.

Revision ID: 0033_stats_borrower_years
Revises: 0032_submission_format
"""

import sqlalchemy as sa
from alembic import op

from migrations.frozen import finance_summaries_0029 as before
from services.finance.stats import db as stats_db

revision = "0033_stats_borrower_years"
down_revision = "0032_submission_format"
branch_labels = None
depends_on = None

S = "finance"
TABLES = ("loan_borrower_years", "loan_borrower_year_counts")


def upgrade() -> None:
    op.add_column(
        "loan_month_totals",
        sa.Column("sm_delta", sa.Numeric(20, 2), nullable=False, server_default="0"),
        schema=S,
    )
    op.alter_column("loan_month_totals", "sm_delta", server_default=None, schema=S)
    op.create_table(
        "loan_borrower_years",
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("scope_lender", sa.Text, nullable=False),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        sa.Column("applied_sm", sa.Boolean, nullable=False),
        sa.Column("obtained", sa.Boolean, nullable=False),
        sa.Column("applied_other", sa.Boolean, nullable=False),
        sa.Column("first_loan", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint(
            "borrower_credit_code",
            "year",
            "scope_lender",
            "borrower_region",
            name=op.f("pk_loan_borrower_years"),
        ),
        schema=S,
    )
    op.create_table(
        "loan_borrower_year_counts",
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("scope_region", sa.String(6), nullable=False),
        sa.Column("scope_lender", sa.Text, nullable=False),
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("applied", sa.BigInteger, nullable=False),
        sa.Column("obtained", sa.BigInteger, nullable=False),
        sa.Column("other_applied", sa.BigInteger, nullable=False),
        sa.Column("first_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "year", "scope_region", "scope_lender", "lender", name=op.f("pk_loan_borrower_year_counts")
        ),
        schema=S,
    )
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO eaglet_worker")
    for fn in stats_db.FUNCTIONS:
        op.replace_entity(fn)
    for entity in (*stats_db.APPLICATION_FUNCTIONS, *stats_db.APPLICATION_TRIGGERS):
        op.create_entity(entity)
    for statement in stats_db.REBUILD:
        op.execute(statement)


def downgrade() -> None:
    for trigger in stats_db.APPLICATION_TRIGGERS:
        op.drop_entity(trigger)
    for fn in reversed(stats_db.APPLICATION_FUNCTIONS):
        op.drop_entity(fn)
    for fn in before.FUNCTIONS:
        op.replace_entity(fn)
    for table in reversed(TABLES):
        op.drop_table(table, schema=S)
    op.drop_column("loan_month_totals", "sm_delta", schema=S)
