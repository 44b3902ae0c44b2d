"""Registry performance: indexes for the statistics' joins at a million enterprises, and a data
version the statistics cache is keyed on.

Revision ID: 0006_registry_performance
Revises: 0005_gateway
"""

from alembic import op

from services.registry.stats import db as stats_db

revision = "0006_registry_performance"
down_revision = "0005_gateway"
branch_labels = None
depends_on = None

S = "registry"


def upgrade() -> None:
    # Region of an enterprise by credit code without visiting the heap (statistics join every
    # fact row to its enterprise's region).
    op.execute(
        f"CREATE INDEX ix_enterprises_credit_code_region_code ON {S}.enterprises (credit_code) INCLUDE (region_code)"
    )
    op.execute(
        f"CREATE INDEX ix_indicators_year_credit_code ON {S}.indicators (year, credit_code) WHERE on_cloud"
    )
    # The statistics' data version (services/registry/stats/db.py): every statement that changes a
    # table the statistics read bumps it; the statistics cache keys its entries on it.
    op.execute(f"CREATE SEQUENCE {S}.data_version")
    op.create_entity(stats_db.BUMP_DATA_VERSION)
    for trigger in stats_db.DATA_VERSION_TRIGGERS:
        op.create_entity(trigger)


def downgrade() -> None:
    for trigger in stats_db.DATA_VERSION_TRIGGERS:
        op.drop_entity(trigger)
    op.drop_entity(stats_db.BUMP_DATA_VERSION)
    op.execute(f"DROP SEQUENCE {S}.data_version")
    op.execute(f"DROP INDEX {S}.ix_indicators_year_credit_code")
    op.execute(f"DROP INDEX {S}.ix_enterprises_credit_code_region_code")
