"""The registry schema's tables (filled in by the registry issue).

Revision ID: 0002_registry
Revises: 0001_foundation
"""

revision = "0002_registry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
