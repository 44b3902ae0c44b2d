"""Financing definitions (docs/finance.md, "Definitions"): banks' whole loan books for “两增”.

- `finance.loan_book_reports`: one row per (lender, period_end) with the bank's whole loan book
  (各项贷款) balance and borrowers, which “两增” compares the inclusive loans' growth with.
- loan applications gain the applicant's size as loans have it (`borrower_size` as the bank
  reports it, optional; `size_class`/`size_source`: the registry's size for the application year,
  else the bank's), so that 申贷获得率 counts small and micro applicants only. Stored applications
  take the registry's size where it knows one; the others stay unsized (not counted) until the
  bank posts them again with a size.

Revision ID: 0023_finance_definitions
Revises: 0022_retired_regions
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_finance_definitions"
down_revision = "0022_retired_regions"
branch_labels = None
depends_on = None

S = "finance"


def upgrade() -> None:
    op.create_table(
        "loan_book_reports",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("all_loans_balance", sa.Numeric(20, 2), nullable=False),
        sa.Column("all_loans_borrowers", sa.BigInteger, nullable=False),
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_book_reports")),
        sa.UniqueConstraint("lender", "period_end", name=op.f("uq_loan_book_reports_lender_period_end")),
        sa.CheckConstraint("all_loans_balance >= 0", name=op.f("ck_loan_book_reports_balance_not_negative")),
        sa.CheckConstraint(
            "all_loans_borrowers >= 0", name=op.f("ck_loan_book_reports_borrowers_not_negative")
        ),
        schema=S,
    )
    for name in ("borrower_size", "size_class", "size_source"):
        op.add_column("loan_applications", sa.Column(name, sa.String(8), nullable=True), schema=S)
    op.execute(
        """UPDATE finance.loan_applications a SET size_class = z.size_class, size_source = 'registry'
             FROM registry.enterprise_sizes z
            WHERE z.credit_code = a.borrower_credit_code AND z.year = extract(year FROM a.applied_on)::int"""
    )


def downgrade() -> None:
    for name in ("size_source", "size_class", "borrower_size"):
        op.drop_column("loan_applications", name, schema=S)
    op.drop_table("loan_book_reports", schema=S)
