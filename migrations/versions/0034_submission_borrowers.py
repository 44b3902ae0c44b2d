"""The borrowers a loans file touched, re-derived once when the file ends
(`finance.submission_borrowers`, services/finance/loans/models.py): a file's chunks no longer
re-derive the stored loans beside them one chunk at a time (docs/finance.md, "A file re-derives
its borrowers once, at its end").

The worker's submission task keeps the table (as 0027 and 0033 grant what it writes).

Revision ID: 0034_submission_borrowers
Revises: 0033_stats_borrower_years
"""

import sqlalchemy as sa
from alembic import op

revision = "0034_submission_borrowers"
down_revision = "0033_stats_borrower_years"
branch_labels = None
depends_on = None

S = "finance"


def upgrade() -> None:
    op.create_table(
        "submission_borrowers",
        sa.Column("submission_id", sa.BigInteger, nullable=False),
        sa.Column("borrower_credit_code", sa.String(18), nullable=False),
        sa.Column("since", sa.Date, nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            [f"{S}.submissions.id"],
            name=op.f("fk_submission_borrowers_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "submission_id", "borrower_credit_code", name=op.f("pk_submission_borrowers")
        ),
        schema=S,
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.submission_borrowers TO eaglet_worker")


def downgrade() -> None:
    op.drop_table("submission_borrowers", schema=S)
