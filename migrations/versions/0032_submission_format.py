"""A submission's file format: `csv` or `xlsx` (services/common/tabular.py), fixed at upload from
its Content-Type and read by the worker, in every schema that takes submissions. The rows before
it were all CSV (the only format then taken).

No grant changes: the services insert their own submissions and the worker reads them as before
(0027, 0030); the retention of files (services/jobs/retention.py) updates `file_removed_at`,
which the worker's UPDATE on the tables already covers.

Revision ID: 0032_submission_format
Revises: 0031_partitioned_ledger
"""

import sqlalchemy as sa
from alembic import op

revision = "0032_submission_format"
down_revision = "0031_partitioned_ledger"
branch_labels = None
depends_on = None

SCHEMAS = ("finance", "standards", "registry")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.add_column(
            "submissions", sa.Column("format", sa.Text, nullable=False, server_default="csv"), schema=schema
        )
        op.create_check_constraint(
            op.f("ck_submissions_format"), "submissions", "format IN ('csv', 'xlsx')", schema=schema
        )


def downgrade() -> None:
    for schema in SCHEMAS:
        op.drop_constraint(op.f("ck_submissions_format"), "submissions", schema=schema)
        op.drop_column("submissions", "format", schema=schema)
