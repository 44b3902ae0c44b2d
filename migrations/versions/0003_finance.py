"""The finance schema's tables (filled in by the finance issue).

Revision ID: 0003_finance
Revises: 0002_registry
"""

revision = "0003_finance"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
