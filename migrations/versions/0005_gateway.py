"""The gateway schema's tables (filled in by the gateway issue).

Revision ID: 0005_gateway
Revises: 0004_standards
"""

revision = "0005_gateway"
down_revision = "0004_standards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
