"""Name indexes within a city and within a county, for officials' name searches.

A name-prefix page is read in name order from the name index and filtered by the caller's region.
Company names mostly start with their city, so for a city or county official that filter is
strongly correlated with the name: a Hangzhou official's 杭州 page is found at once, but a prefix
with no match in the caller's region (宁波 for a Hangzhou official) reads every name starting with
it. With the region first, the index holds exactly the caller's names in name order, so the prefix
step reads only those (figures: docs/registry.md, "Name indexes within a city and a county").

Revision ID: 0011_registry_region_name
Revises: 0010_registry_name_grams
"""

from alembic import op

revision = "0011_registry_region_name"
down_revision = "0010_registry_name_grams"
branch_labels = None
depends_on = None

S = "registry"
INDEXES = {
    "ix_enterprises_city_name": "(substr(region_code, 1, 4), name text_pattern_ops)",
    "ix_enterprises_county_name": "(region_code, name text_pattern_ops)",
}


def upgrade() -> None:
    for name, spec in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {S}.enterprises {spec}")
    op.execute(f"ANALYZE {S}.enterprises")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {S}.{name}")
