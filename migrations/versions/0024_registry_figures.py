"""Pool tiers of the national scheme (工信部企业〔2022〕63号): innovative (创新型中小企业) and
little_giant (专精特新"小巨人") join seedling, specialized, champion_candidate and champion
(services/registry/pool/tiers.py). Widens the tier check of the three tables holding a tier.

The tier lists are written out here, so that the revision never changes with the code.
The downgrade narrows them back and fails while a row holds one of the new tiers.

Revision ID: 0024_registry_figures
Revises: 0023_finance_definitions
"""

from alembic import op

revision = "0024_registry_figures"
down_revision = "0023_finance_definitions"
branch_labels = None
depends_on = None

TABLES = ("enterprises", "pool_decisions", "screenings")
NEW = "tier IN ('seedling', 'innovative', 'specialized', 'little_giant', 'champion_candidate', 'champion')"
OLD = "tier IN ('seedling', 'specialized', 'champion_candidate', 'champion')"


def _check(definition: str) -> None:
    for table in TABLES:
        op.execute(
            f"ALTER TABLE registry.{table} DROP CONSTRAINT ck_{table}_tier, "
            f"ADD CONSTRAINT ck_{table}_tier CHECK ({definition})"
        )


def upgrade() -> None:
    _check(NEW)


def downgrade() -> None:
    _check(OLD)
