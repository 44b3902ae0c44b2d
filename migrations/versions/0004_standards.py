"""The standards schema's tables (filled in by the standards issue).

Revision ID: 0004_standards
Revises: 0003_finance
"""

revision = "0004_standards"
down_revision = "0003_finance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
