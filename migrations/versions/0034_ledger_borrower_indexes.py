"""Drop `ix_loans_borrower_credit_code` and `ix_guarantees_borrower_credit_code`: each ledger's
primary key (borrower_credit_code, its date, id) leads with the same column, so every read by
borrower has that index already, and each written row paid for a second copy of its credit code
(docs/finance.md, "The ledger's partitions"). Dropped on the partitioned tables, so from every
partition.

Revision ID: 0034_ledger_borrower_indexes
Revises: 0033_stats_borrower_years
"""

from alembic import op

revision = "0034_ledger_borrower_indexes"
down_revision = "0033_stats_borrower_years"
branch_labels = None
depends_on = None


TABLES = ("loans", "guarantees")


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_borrower_credit_code", table_name=table, schema="finance")


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_borrower_credit_code", table, ["borrower_credit_code"], schema="finance")
