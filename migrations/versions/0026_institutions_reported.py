"""Service institutions and platforms (省级以上示范服务机构/平台) and reported figures.

- `registry.service_institutions`: one row per credit code, in a current county, kind
  institution|platform, level provincial|national, recognised_on.
- `registry.reported_figures`: figures other departments own, append-only (a correction is a new
  row; the latest per key, region and period_end is the figure), each with its source document.
Both are granted to eaglet_registry by the schema's default privileges (0021_roles_grants).

Revision ID: 0026_institutions_reported
Revises: 0025_targets_bulletins
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_institutions_reported"  # alembic_version holds 32 characters
down_revision = "0025_targets_bulletins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_institutions",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("recognised_on", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service_institutions"),
        sa.UniqueConstraint("credit_code", name="uq_service_institutions_credit_code"),
        sa.CheckConstraint("kind IN ('institution', 'platform')", name=op.f("ck_service_institutions_kind")),
        sa.CheckConstraint("level IN ('provincial', 'national')", name=op.f("ck_service_institutions_level")),
        sa.CheckConstraint(
            "region_code ~ '^[0-9]{6}$'", name=op.f("ck_service_institutions_region_code_format")
        ),
        schema="registry",
    )
    op.create_index(
        "ix_service_institutions_region_code", "service_institutions", ["region_code"], schema="registry"
    )
    op.create_table(
        "reported_figures",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("value", sa.Numeric(20, 2), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("source_document", sa.Text, nullable=False),
        sa.Column("reported_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reported_figures"),
        sa.CheckConstraint("value >= 0", name=op.f("ck_reported_figures_value_non_negative")),
        sa.CheckConstraint("region_code ~ '^[0-9]{6}$'", name=op.f("ck_reported_figures_region_code_format")),
        schema="registry",
    )
    op.create_index(
        "ix_reported_figures_key_region_code_period_end",
        "reported_figures",
        ["key", "region_code", "period_end"],
        schema="registry",
    )


def downgrade() -> None:
    op.drop_table("reported_figures", schema="registry")
    op.drop_table("service_institutions", schema="registry")
