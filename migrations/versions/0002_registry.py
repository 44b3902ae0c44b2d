"""The registry schema: enterprises, annual indicators, scale status, titles, cultivation pool,
screenings, parks, and the views other services read (docs/contracts.md).

Derived "current state" columns on `enterprises` (size class, scale status, pool tier) are kept by
statement-level triggers on the fact tables, so every writer (API, seeds, COPY, test helpers)
leaves the directory view consistent. Functions, triggers and views are declared in the `db.py`
module beside the rule each one mirrors (indicators, scale, pool, enterprises, reference).

Revision ID: 0002_registry
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.registry.enterprises import db as enterprises_db
from services.registry.indicators import db as indicators_db
from services.registry.pool import db as pool_db
from services.registry.reference.db import INDUSTRY_SECTION
from services.registry.scale import db as scale_db

revision = "0002_registry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

S = "registry"
TS = sa.DateTime(timezone=True)
SIZE = "('large', 'medium', 'small', 'micro')"
TIER = "('seedling', 'specialized', 'champion_candidate', 'champion')"


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["credit_code"],
        [f"{S}.enterprises.credit_code"],
        name=f"fk_{table}_credit_code_enterprises",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_entity(enterprises_db.NAME_BIGRAMS)
    op.create_table(
        "enterprises",
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "name_bigrams",
            postgresql.ARRAY(sa.Text),
            sa.Computed(f"{S}.name_bigrams(name)", persisted=True),
            nullable=False,
        ),
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("industry_code", sa.Text, nullable=False),
        sa.Column("industry_section", sa.Text, sa.Computed(INDUSTRY_SECTION, persisted=True)),
        sa.Column("established_on", sa.Date),
        sa.Column("registered_capital", sa.Numeric(17, 2)),
        sa.Column("address", sa.Text),
        sa.Column("legal_representative", sa.Text),
        sa.Column("rule_set_version", sa.Text),
        sa.Column("size_class", sa.Text),
        sa.Column("size_year", sa.Integer),
        sa.Column("scale_status", sa.Text),
        sa.Column("scale_year", sa.Integer),
        sa.Column("tier", sa.Text),
        sa.Column("tier_year", sa.Integer),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("credit_code", name="pk_enterprises"),
        sa.CheckConstraint("char_length(credit_code) = 18", name="ck_enterprises_credit_code_length"),
        sa.CheckConstraint("region_code ~ '^[0-9]{6}$'", name="ck_enterprises_region_code_format"),
        sa.CheckConstraint("industry_code ~ '^[0-9]{4}$'", name="ck_enterprises_industry_code_format"),
        sa.CheckConstraint("registered_capital >= 0", name="ck_enterprises_registered_capital_nonnegative"),
        sa.CheckConstraint(f"size_class IN {SIZE}", name="ck_enterprises_size_class"),
        sa.CheckConstraint("scale_status IN ('above', 'below')", name="ck_enterprises_scale_status"),
        sa.CheckConstraint(f"tier IN {TIER}", name="ck_enterprises_tier"),
        schema=S,
    )
    op.execute(
        f"CREATE INDEX ix_enterprises_region_code ON {S}.enterprises (region_code text_pattern_ops, credit_code)"
    )
    op.execute(
        f"CREATE INDEX ix_enterprises_tier_region_code ON {S}.enterprises "
        "(tier, region_code text_pattern_ops, credit_code) WHERE tier IS NOT NULL"
    )
    op.execute(f"CREATE INDEX ix_enterprises_name ON {S}.enterprises (name text_pattern_ops)")
    op.execute(f"CREATE INDEX ix_enterprises_name_bigrams ON {S}.enterprises USING gin (name_bigrams)")
    op.execute(
        f"CREATE INDEX ix_enterprises_industry_code ON {S}.enterprises (industry_code text_pattern_ops, credit_code)"
    )

    op.create_table(
        "indicators",
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("employees", sa.Integer),
        sa.Column("revenue", sa.Numeric(17, 2)),
        sa.Column("main_business_revenue", sa.Numeric(17, 2)),
        sa.Column("total_assets", sa.Numeric(17, 2)),
        sa.Column("total_liabilities", sa.Numeric(17, 2)),
        sa.Column("net_profit", sa.Numeric(17, 2)),
        sa.Column("rd_expense", sa.Numeric(17, 2)),
        sa.Column("rd_staff", sa.Integer),
        sa.Column("invention_patents", sa.Integer),
        sa.Column("cnc_numerator", sa.Numeric(17, 2)),
        sa.Column("cnc_denominator", sa.Numeric(17, 2)),
        sa.Column("cnc_basis", sa.Text),
        sa.Column("on_cloud", sa.Boolean),
        sa.Column("export_revenue", sa.Numeric(17, 2)),
        sa.Column("market_share_scope", sa.Text),
        sa.Column("market_share_rank", sa.Integer),
        sa.Column("niche_years", sa.Integer),
        sa.Column("evaluation_score", sa.Numeric(5, 2)),
        sa.Column("size_class", sa.Text),
        sa.Column("size_rule_version", sa.Text),
        sa.Column("size_decided_by", postgresql.JSONB),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("credit_code", "year", name="pk_indicators"),
        _fk("indicators"),
        sa.CheckConstraint("year BETWEEN 1949 AND 2200", name="ck_indicators_year_range"),
        sa.CheckConstraint(f"size_class IN {SIZE}", name="ck_indicators_size_class"),
        sa.CheckConstraint("cnc_basis IN ('count', 'value')", name="ck_indicators_cnc_basis"),
        sa.CheckConstraint(
            "cnc_numerator IS NULL OR cnc_denominator IS NULL OR cnc_numerator <= cnc_denominator",
            name="ck_indicators_cnc_fraction",
        ),
        sa.CheckConstraint(
            "market_share_scope IN ('national', 'global')", name="ck_indicators_market_share_scope"
        ),
        schema=S,
    )
    op.create_index("ix_indicators_year", "indicators", ["year"], schema=S)

    op.create_table(
        "scale_statuses",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("effective_year", sa.Integer, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_scale_statuses"),
        _fk("scale_statuses"),
        sa.CheckConstraint("status IN ('above', 'below')", name="ck_scale_statuses_status"),
        schema=S,
    )
    op.create_index(
        "ix_scale_statuses_credit_code_effective_year",
        "scale_statuses",
        ["credit_code", "effective_year"],
        schema=S,
    )

    op.create_table(
        "titles",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("issuer", sa.Text),
        sa.Column("batch", sa.Text),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("revoked_on", sa.Date),
        sa.Column("revoke_reason", sa.Text),
        sa.Column("rule_version", sa.Text),
        sa.Column("source_document", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_titles"),
        _fk("titles"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_titles_status"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_titles_validity"),
        schema=S,
    )
    op.create_index("ix_titles_credit_code", "titles", ["credit_code"], schema=S)
    op.create_index("ix_titles_kind_valid_to", "titles", ["kind", "valid_to"], schema=S)

    op.create_table(
        "screenings",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("rule_set", sa.Text, nullable=False),
        sa.Column("rule_version", sa.Text, nullable=False),
        sa.Column("region", sa.Text),
        sa.Column("evaluated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("eligible", sa.Integer, nullable=False, server_default="0"),
        sa.Column("ineligible", sa.Integer, nullable=False, server_default="0"),
        sa.Column("incomplete", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_screenings"),
        sa.CheckConstraint(f"tier IN {TIER}", name="ck_screenings_tier"),
        schema=S,
    )
    op.create_table(
        "screening_results",
        sa.Column("screening_id", sa.BigInteger, nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("criteria", postgresql.JSONB, nullable=False),
        sa.PrimaryKeyConstraint("screening_id", "credit_code", name="pk_screening_results"),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            [f"{S}.screenings.id"],
            name="fk_screening_results_screening_id_screenings",
            ondelete="CASCADE",
        ),
        _fk("screening_results"),
        sa.CheckConstraint(
            "outcome IN ('eligible', 'ineligible', 'incomplete')", name="ck_screening_results_outcome"
        ),
        schema=S,
    )

    op.create_table(
        "pool_decisions",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("previous_tier", sa.Text),
        sa.Column("screening_id", sa.BigInteger),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_pool_decisions"),
        _fk("pool_decisions"),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            [f"{S}.screenings.id"],
            name="fk_pool_decisions_screening_id_screenings",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(f"tier IN {TIER}", name="ck_pool_decisions_tier"),
        sa.CheckConstraint("decision IN ('admit', 'reject', 'exit')", name="ck_pool_decisions_decision"),
        schema=S,
    )
    op.create_index("ix_pool_decisions_credit_code_year", "pool_decisions", ["credit_code", "year"], schema=S)

    op.create_table(
        "parks",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("opened_on", sa.Date),
        sa.Column("star_rating", sa.SmallInteger),
        sa.Column("rated_on", sa.Date),
        sa.Column("national_demo_base", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_parks"),
        sa.UniqueConstraint("region_code", "name", name="uq_parks_region_code_name"),
        sa.CheckConstraint("star_rating BETWEEN 1 AND 5", name="ck_parks_star_rating"),
        sa.CheckConstraint("region_code ~ '^[0-9]{6}$'", name="ck_parks_region_code_format"),
        schema=S,
    )
    op.create_table(
        "park_tenants",
        sa.Column("park_id", sa.BigInteger, nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("moved_in_on", sa.Date, nullable=False),
        sa.Column("moved_out_on", sa.Date),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("park_id", "credit_code", name="pk_park_tenants"),
        sa.ForeignKeyConstraint(
            ["park_id"], [f"{S}.parks.id"], name="fk_park_tenants_park_id_parks", ondelete="CASCADE"
        ),
        _fk("park_tenants"),
        sa.CheckConstraint(
            "moved_out_on IS NULL OR moved_out_on >= moved_in_on", name="ck_park_tenants_dates"
        ),
        schema=S,
    )
    op.create_index("ix_park_tenants_credit_code", "park_tenants", ["credit_code"], schema=S)

    # The enterprises' derived columns, kept by statement triggers on the fact tables.
    for module in (indicators_db, scale_db, pool_db):
        for entity in module.ENTITIES:
            op.create_entity(entity)
    for view in enterprises_db.VIEWS:
        op.create_entity(view)


def downgrade() -> None:
    for view in reversed(enterprises_db.VIEWS):
        op.drop_entity(view)
    for table in (
        "park_tenants",
        "parks",
        "pool_decisions",
        "screening_results",
        "screenings",
        "titles",
        "scale_statuses",
        "indicators",
        "enterprises",
    ):
        op.drop_table(table, schema=S)
    for fn in (pool_db.REFRESH_TIER, scale_db.REFRESH_SCALE, indicators_db.REFRESH_SIZE):
        op.drop_entity(fn)
    op.drop_entity(enterprises_db.NAME_BIGRAMS)
