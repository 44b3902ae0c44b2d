"""Registry indexes matching the list's filters with its keyset order (credit code), and the
statistics' CNC figure reading only enterprises that report CNC figures.

A region filter is an equality on the county code (6 digits) or on the city part
`substr(region_code, 1, 4)` (4 digits), so these indexes return a page in credit-code order and stop
after `limit` rows instead of sorting every match.

Revision ID: 0008_registry_list_indexes
Revises: 0007_registry_summaries
"""

from alembic import op

revision = "0008_registry_list_indexes"
down_revision = "0007_registry_summaries"
branch_labels = None
depends_on = None

S = "registry"
INDEXES = {
    "ix_enterprises_city_credit_code": "(substr(region_code, 1, 4), credit_code)",
    "ix_enterprises_tier_city_credit_code": "(tier, substr(region_code, 1, 4), credit_code) WHERE tier IS NOT NULL",
    "ix_enterprises_tier_credit_code": "(tier, credit_code) WHERE tier IS NOT NULL",
}


def upgrade() -> None:
    for name, spec in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {S}.enterprises {spec}")
    op.execute(
        f"CREATE INDEX ix_indicators_year_credit_code_cnc ON {S}.indicators (year, credit_code) "
        "WHERE cnc_denominator IS NOT NULL"
    )
    op.execute(f"ANALYZE {S}.enterprises")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.ix_indicators_year_credit_code_cnc")
    for name in INDEXES:
        op.execute(f"DROP INDEX {S}.{name}")
