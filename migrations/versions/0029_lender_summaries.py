"""Loan summaries that do not serialise writers across lenders (services/finance/stats/db.py).

Before, every transaction that wrote loans applied its summary deltas under one advisory lock, so
banks posting at once went one at a time. Now every summary row a writer adjusts is keyed by
lender or borrower: `loan_inclusive_borrower_months` gains `lender` (where its writers keep the
row; the figures sum over it), and `loan_summary_borrowers` holds one row per borrower, locked by
the writer that replaces the borrower's islands. The functions are replaced by their
declarations and the summaries rebuilt from the loans (the same figures).

Revision ID: 0029_lender_summaries
Revises: 0027_submissions
"""

import sqlalchemy as sa
from alembic import op

from migrations.frozen import finance_summaries_0003 as before
from migrations.frozen import finance_summaries_0029 as stats_db  # as this revision declared them

revision = "0029_lender_summaries"
down_revision = "0027_submissions"
branch_labels = None
depends_on = None

S = "finance"
MONTHS = "loan_inclusive_borrower_months"


def upgrade() -> None:
    op.create_table(
        "loan_summary_borrowers",
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.PrimaryKeyConstraint("borrower_credit_code", name=op.f("pk_loan_summary_borrowers")),
        schema=S,
    )
    # the worker's submission task writes loans, so it keeps their summaries (as in 0027)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON finance.loan_summary_borrowers TO eaglet_worker")
    op.execute(f"DELETE FROM {S}.{MONTHS}")  # rebuilt below
    op.drop_constraint(f"pk_{MONTHS}", MONTHS, schema=S)
    op.add_column(MONTHS, sa.Column("lender", sa.Text, nullable=False), schema=S)
    op.create_primary_key(
        f"pk_{MONTHS}", MONTHS, ["scope_region", "scope_lender", "month", "lender"], schema=S
    )
    for fn in stats_db.FUNCTIONS:
        op.replace_entity(fn)
    for statement in stats_db.REBUILD:
        op.execute(statement)


def downgrade() -> None:
    for fn in before.FUNCTIONS:
        op.replace_entity(fn)
    op.execute(
        f"""CREATE TEMP TABLE _months ON COMMIT DROP AS
            SELECT scope_region, scope_lender, month, sum(delta)::bigint AS delta FROM {S}.{MONTHS}
            GROUP BY 1, 2, 3 HAVING sum(delta) <> 0"""
    )
    op.execute(f"DELETE FROM {S}.{MONTHS}")
    op.drop_constraint(f"pk_{MONTHS}", MONTHS, schema=S)
    op.drop_column(MONTHS, "lender", schema=S)
    op.create_primary_key(f"pk_{MONTHS}", MONTHS, ["scope_region", "scope_lender", "month"], schema=S)
    op.execute(f"INSERT INTO {S}.{MONTHS} SELECT * FROM _months")
    op.execute("DROP TABLE _months")
    op.drop_table("loan_summary_borrowers", schema=S)
