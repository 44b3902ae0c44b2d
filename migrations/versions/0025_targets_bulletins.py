"""Targets per region and year, every programme indicator, and published bulletins.

- `registry.programme_indicators`: every quantitative commitment of a programme (one bulletin row
  each), loaded from `services/registry/data/programme_targets.json` with the eight targets the
  file lacked, and published as the view `registry.programme_indicator_directory` (read by the
  gateway, finance and standards like the targets view).
- Targets per region: `registry.programme_targets` already keys by programme, year and region;
  regions' targets are set through `PUT /v1/targets/{programme}/{year}/{region}`.
- `gateway.published_bulletins`: numbered, immutable snapshots of the bulletin (a trigger refuses
  every UPDATE and DELETE, the owner's too; the gateway's role may only insert and read).

Revision ID: 0025_targets_bulletins
Revises: 0024_registry_figures
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gateway.progress import db as bulletins_db
from services.registry.targets import data
from services.registry.targets import db as targets_db

revision = "0025_targets_bulletins"
down_revision = "0024_registry_figures"
branch_labels = None
depends_on = None

VIEW_READERS = ("eaglet_gateway", "eaglet_finance", "eaglet_standards")


def upgrade() -> None:
    op.create_table(
        "programme_indicators",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("programme_name", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("owner_service", sa.Text, nullable=False),
        sa.Column("default_window_years", sa.Integer, nullable=False),
        sa.Column("source_document", sa.Text, nullable=False),
        sa.Column("settled", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("data_version", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_programme_indicators"),
        sa.UniqueConstraint("programme", "key", name="uq_programme_indicators_programme_key"),
        sa.CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')",
            name=op.f("ck_programme_indicators_owner_service"),
        ),
        sa.CheckConstraint(
            "default_window_years >= 1", name=op.f("ck_programme_indicators_default_window_years")
        ),
        schema="registry",
    )
    data.load(op.get_bind())
    op.create_entity(targets_db.INDICATORS)
    for role in VIEW_READERS:
        op.execute(f"GRANT SELECT ON registry.programme_indicator_directory TO {role}")

    op.create_table(
        "published_bulletins",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", postgresql.JSONB, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("published_by", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_published_bulletins"),
        sa.UniqueConstraint("number", name="uq_published_bulletins_number"),
        sa.UniqueConstraint(
            "year", "region_code", "sequence", name="uq_published_bulletins_year_region_code_sequence"
        ),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_published_bulletins_sequence_positive")),
        schema="gateway",
    )
    # Immutable, the owner's writes too (gateway/progress/db.py); the gateway inserts and reads.
    op.create_entity(bulletins_db.REFUSE)
    op.create_entity(bulletins_db.IMMUTABLE)
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON gateway.published_bulletins FROM eaglet_gateway")


def downgrade() -> None:
    op.drop_entity(bulletins_db.IMMUTABLE)
    op.drop_entity(bulletins_db.REFUSE)
    op.drop_table("published_bulletins", schema="gateway")
    op.drop_entity(targets_db.INDICATORS)
    op.drop_table("programme_indicators", schema="registry")
    # The targets the file added (two_increases, …) stay: rows the file does not name are kept.
