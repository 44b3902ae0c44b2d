"""The finance schema: institutions, loans, credit lines, loan applications, guarantees.

Revision ID: 0003_finance
Revises: 0002_registry
"""

import sqlalchemy as sa
from alembic import op

from migrations.frozen import finance_summaries_0003 as stats_db  # as this revision created them

revision = "0003_finance"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

S = "finance"


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("rule_set_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("net_assets", sa.Numeric(17, 2)),
        sa.Column("small_micro_focused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("code", name="pk_institutions"),
        sa.CheckConstraint("kind IN ('bank', 'guarantor')", name="ck_institutions_kind"),
        schema=S,
    )

    op.create_table(
        "loans",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("loan_ref", sa.Text, nullable=False),
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("borrower_name", sa.Text, nullable=False),
        sa.Column("borrower_size", sa.String(8), nullable=False),
        sa.Column("product", sa.String(24), nullable=False),
        sa.Column("amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("annual_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("matures_on", sa.Date, nullable=False),
        sa.Column("renewal_type", sa.String(32), nullable=False),
        sa.Column("is_first_loan", sa.Boolean, nullable=False),
        sa.Column("credit_line_ref", sa.Text),
        sa.Column("guarantee_ref", sa.Text),
        sa.Column("outstanding_balance", sa.Numeric(17, 2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        sa.Column("matched", sa.Boolean, nullable=False),
        sa.Column("size_class", sa.String(8), nullable=False),
        sa.Column("size_source", sa.String(8), nullable=False),
        sa.Column("line_total", sa.Numeric(17, 2)),
        sa.Column("inclusive", sa.Boolean, nullable=False),
        sa.Column("inclusive_reason", sa.String(32), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_loans"),
        sa.UniqueConstraint("lender", "loan_ref", name="uq_loans_lender_loan_ref"),
        sa.CheckConstraint("amount > 0", name="ck_loans_amount_positive"),
        sa.CheckConstraint(
            "outstanding_balance >= 0 AND outstanding_balance <= amount",
            name="ck_loans_balance_within_amount",
        ),
        sa.CheckConstraint(
            "status IN ('outstanding', 'repaid', 'overdue', 'written_off')", name="ck_loans_status"
        ),
        sa.CheckConstraint(
            "(status IN ('repaid', 'written_off')) = (closed_on IS NOT NULL)",
            name="ck_loans_closed_on_status",
        ),
        schema=S,
    )
    op.create_index("ix_loans_borrower_credit_code", "loans", ["borrower_credit_code"], schema=S)
    op.create_index(
        "ix_loans_lender_borrower_credit_code", "loans", ["lender", "borrower_credit_code"], schema=S
    )
    op.create_index("ix_loans_borrower_region", "loans", ["borrower_region"], schema=S)

    op.create_table(
        "credit_lines",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("line_ref", sa.Text, nullable=False),
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("granted_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_credit_lines"),
        sa.UniqueConstraint("lender", "line_ref", name="uq_credit_lines_lender_line_ref"),
        sa.CheckConstraint("amount > 0", name="ck_credit_lines_amount_positive"),
        sa.CheckConstraint("status IN ('active', 'closed')", name="ck_credit_lines_status"),
        schema=S,
    )
    op.create_index(
        "ix_credit_lines_lender_borrower_credit_code",
        "credit_lines",
        ["lender", "borrower_credit_code"],
        schema=S,
    )
    op.create_index("ix_credit_lines_borrower_region", "credit_lines", ["borrower_region"], schema=S)

    op.create_table(
        "loan_applications",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("application_ref", sa.Text, nullable=False),
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("applied_on", sa.Date, nullable=False),
        sa.Column("amount_requested", sa.Numeric(17, 2), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_on", sa.Date),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_loan_applications"),
        sa.UniqueConstraint("lender", "application_ref", name="uq_loan_applications_lender_application_ref"),
        sa.CheckConstraint(
            "decision IN ('pending', 'approved', 'rejected')", name="ck_loan_applications_decision"
        ),
        schema=S,
    )
    op.create_index(
        "ix_loan_applications_borrower_region", "loan_applications", ["borrower_region"], schema=S
    )

    op.create_table(
        "guarantees",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("guarantor", sa.Text, nullable=False),
        sa.Column("guarantee_ref", sa.Text, nullable=False),
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("lender_code", sa.Text, nullable=False),
        sa.Column("loan_ref", sa.Text),
        sa.Column("guaranteed_amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("outstanding_amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("fee_rate", sa.Numeric(7, 4), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("released_on", sa.Date),
        sa.Column("compensated_on", sa.Date),
        sa.Column("compensated_amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("recovered_amount", sa.Numeric(17, 2), nullable=False),
        sa.Column("counter_guarantee", sa.Boolean, nullable=False),
        sa.Column("reguarantee_share", sa.Numeric(7, 4), nullable=False),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_guarantees"),
        sa.UniqueConstraint("guarantor", "guarantee_ref", name="uq_guarantees_guarantor_guarantee_ref"),
        sa.CheckConstraint("guaranteed_amount > 0", name="ck_guarantees_amount_positive"),
        sa.CheckConstraint("status IN ('active', 'released', 'compensated')", name="ck_guarantees_status"),
        schema=S,
    )
    op.create_index("ix_guarantees_lender_code", "guarantees", ["lender_code"], schema=S)
    op.create_index("ix_guarantees_borrower_region", "guarantees", ["borrower_region"], schema=S)
    op.create_index("ix_guarantees_borrower_credit_code", "guarantees", ["borrower_credit_code"], schema=S)

    # statistics summaries (services/finance/stats/db.py): tables here, triggers there
    money = sa.Numeric(20, 2)
    op.create_table(
        "loan_month_totals",
        sa.Column("lender", sa.Text, nullable=False),
        sa.Column("borrower_region", sa.String(6), nullable=False),
        sa.Column("product", sa.String(24), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("n_all", sa.BigInteger, nullable=False),
        sa.Column("a_all", money, nullable=False),
        sa.Column("n_sm", sa.BigInteger, nullable=False),
        sa.Column("a_sm", money, nullable=False),
        sa.Column("n_inc", sa.BigInteger, nullable=False),
        sa.Column("a_inc", money, nullable=False),
        sa.Column("rate_w", sa.Numeric, nullable=False),
        sa.Column("bal_delta", money, nullable=False),
        sa.Column("inc_delta", money, nullable=False),
        sa.PrimaryKeyConstraint("lender", "borrower_region", "product", "month", name="pk_loan_month_totals"),
        schema=S,
    )
    op.create_table(
        "loan_inclusive_islands",
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("scope_region", sa.String(6), nullable=False),
        sa.Column("scope_lender", sa.Text, nullable=False),
        sa.Column("first_month", sa.Date, nullable=False),
        sa.Column("end_month", sa.Date, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_loan_inclusive_islands_borrower_credit_code",
        "loan_inclusive_islands",
        ["borrower_credit_code"],
        schema=S,
    )
    op.create_table(
        "loan_inclusive_borrower_months",
        sa.Column("scope_region", sa.String(6), nullable=False),
        sa.Column("scope_lender", sa.Text, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "scope_region", "scope_lender", "month", name="pk_loan_inclusive_borrower_months"
        ),
        schema=S,
    )
    # first-time borrowers of a period: an index-only scan over the first loans issued in it
    op.create_index(
        "ix_loans_first_issued_on",
        "loans",
        ["issued_on"],
        postgresql_include=["borrower_credit_code", "borrower_region", "lender", "product"],
        postgresql_where=sa.text("is_first_loan"),
        schema=S,
    )
    # marker table: one row per writing transaction, whose deferred trigger applies the summaries
    op.execute(
        """CREATE TABLE finance.loan_summary_marks (id bigint GENERATED ALWAYS AS IDENTITY,
                                                    CONSTRAINT pk_loan_summary_marks PRIMARY KEY (id))"""
    )
    for entity in stats_db.ENTITIES:
        op.create_entity(entity)


def downgrade() -> None:
    for trigger in stats_db.LOAN_TRIGGERS:
        op.drop_entity(trigger)
    op.execute("DROP TABLE finance.loan_summary_marks")
    for fn in reversed(stats_db.FUNCTIONS):
        op.drop_entity(fn)
    for table in ("loan_inclusive_borrower_months", "loan_inclusive_islands", "loan_month_totals"):
        op.drop_table(table, schema=S)
    for table in ("guarantees", "loan_applications", "credit_lines", "loans", "institutions"):
        op.drop_table(table, schema=S)
