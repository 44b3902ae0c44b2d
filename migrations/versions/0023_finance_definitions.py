"""Financing definitions (docs/finance.md, "Definitions"): banks' whole loan books for “两增”.

- `finance.loan_book_reports`: one row per (lender, period_end) with the bank's whole loan book
  (各项贷款) balance and borrowers, which “两增” compares the inclusive loans' growth with.
- loans gain `borrower_kind` (enterprise | individual_business | business_owner, default
  enterprise), `customer_ref` (a business owner's: the bank's own ref beside the credit code of
  the enterprise they own) and `loans_total` (the customer's loans at the lender on the issue
  date). The inclusive flag is re-derived for every stored loan by the rule as of this revision
  (written out here so that the revision never changes): with no line, the cap applies to the
  customer's loans then, not to the one loan.
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
    op.add_column(
        "loans",
        sa.Column("borrower_kind", sa.String(24), nullable=False, server_default=sa.text("'enterprise'")),
        schema=S,
    )
    op.add_column("loans", sa.Column("customer_ref", sa.Text, nullable=True), schema=S)
    op.add_column("loans", sa.Column("loans_total", sa.Numeric(17, 2), nullable=True), schema=S)
    op.create_check_constraint(
        op.f("ck_loans_borrower_kind"),
        "loans",
        "borrower_kind IN ('enterprise', 'individual_business', 'business_owner')",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_loans_customer_ref_for_owner"),
        "loans",
        "(borrower_kind = 'business_owner') = (customer_ref IS NOT NULL)",
        schema=S,
    )
    # every stored loan is an enterprise's: its customer's loans total, and the flag with no line
    op.execute(
        """WITH x AS (
               SELECT l.id, l.amount + COALESCE((SELECT sum(o.amount) FROM finance.loans o
                      WHERE o.lender = l.lender AND o.borrower_credit_code = l.borrower_credit_code
                        AND o.customer_ref IS NOT DISTINCT FROM l.customer_ref AND o.loan_ref <> l.loan_ref
                        AND o.issued_on <= l.issued_on AND (o.closed_on IS NULL OR o.closed_on > l.issued_on)), 0)
                      AS total
               FROM finance.loans l)
           UPDATE finance.loans l
              SET loans_total = x.total,
                  inclusive = CASE WHEN l.line_total IS NULL THEN l.size_class IN ('small', 'micro')
                                   AND x.total <= 10000000.00 ELSE l.inclusive END,
                  inclusive_reason = CASE
                      WHEN l.size_class NOT IN ('small', 'micro') THEN 'not_small_micro'
                      WHEN l.line_total IS NOT NULL THEN l.inclusive_reason
                      WHEN x.total <= 10000000.00 THEN 'no_line_loans_total_within_cap'
                      ELSE 'no_line_loans_total_over_cap' END
             FROM x WHERE x.id = l.id"""
    )
    for name in ("borrower_size", "size_class", "size_source"):
        op.add_column("loan_applications", sa.Column(name, sa.String(8), nullable=True), schema=S)
    op.execute(
        """UPDATE finance.loan_applications a SET size_class = z.size_class, size_source = 'registry'
             FROM registry.enterprise_sizes z
            WHERE z.credit_code = a.borrower_credit_code AND z.year = extract(year FROM a.applied_on)::int"""
    )


def downgrade() -> None:
    op.execute(
        """UPDATE finance.loans SET inclusive = size_class IN ('small', 'micro') AND amount <= 10000000.00,
                  inclusive_reason = CASE WHEN size_class NOT IN ('small', 'micro') THEN 'not_small_micro'
                      WHEN amount <= 10000000.00 THEN 'no_line_amount_within_cap'
                      ELSE 'no_line_amount_over_cap' END
            WHERE line_total IS NULL"""
    )
    op.drop_constraint(op.f("ck_loans_customer_ref_for_owner"), "loans", schema=S)
    op.drop_constraint(op.f("ck_loans_borrower_kind"), "loans", schema=S)
    for name in ("loans_total", "customer_ref", "borrower_kind"):
        op.drop_column("loans", name, schema=S)
    for name in ("size_source", "size_class", "borrower_size"):
        op.drop_column("loan_applications", name, schema=S)
    op.drop_table("loan_book_reports", schema=S)
