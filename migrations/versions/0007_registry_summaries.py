"""Registry statistics summaries: per (region_code, year) counts kept by statement-level triggers
(declared in services/registry/stats/db.py, which says what the table holds), backfilled here.

Revision ID: 0007_registry_summaries
Revises: 0006_registry_performance
"""

import sqlalchemy as sa
from alembic import op

from services.registry.stats import db as stats_db

revision = "0007_registry_summaries"
down_revision = "0006_registry_performance"
branch_labels = None
depends_on = None

S = "registry"
COLS = (
    "above_delta",
    "scale_entries",
    "scale_exits",
    "on_cloud",
    "seedling",
    "specialized",
    "champion_candidate",
    "champion",
)


def upgrade() -> None:
    op.create_table(
        "region_year_summaries",
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        *[sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in COLS],
        sa.PrimaryKeyConstraint("region_code", "year", name="pk_region_year_summaries"),
        schema=S,
    )
    for entity in (*stats_db.SUMMARY_FUNCTIONS, *stats_db.SUMMARY_TRIGGERS):
        op.create_entity(entity)
    op.execute(f"SELECT {S}.rebuild_summaries()")


def downgrade() -> None:
    for trigger in reversed(stats_db.SUMMARY_TRIGGERS):
        op.drop_entity(trigger)
    for fn in reversed(stats_db.SUMMARY_FUNCTIONS):
        op.drop_entity(fn)
    op.drop_table("region_year_summaries", schema=S)
