"""The programme targets move to the registry: one table, read by every service and the gateway.

`registry.programme_targets` (programme, year, region, key, value, unit, owner service, window,
note, data version) replaces `gateway.programme_targets`; finance, standards and the gateway read
it through the view `registry.programme_target_directory` (docs/contracts.md). Rows already stored
are kept, then the data file `services/registry/data/programme_targets.json` is loaded over them
(version chuying-2022/2). It sets the window of smb_new_loans (5000亿 over 3 years) to
2020-01-01…2022-12-31, the default of domain.md §1 — the window the finance figure was always
summed over; migration 0005 had stored 2022-01-01…2024-12-31.

Revision ID: 0014_programme_targets
Revises: 0013_registry_screening_runs
"""

import sqlalchemy as sa
from alembic import op

from services.registry.targets import data
from services.registry.targets import db as targets_db

revision = "0014_programme_targets"
down_revision = "0013_registry_screening_runs"
branch_labels = None
depends_on = None

S = "registry"


def upgrade() -> None:
    op.create_table(
        "programme_targets",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("programme_name", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("value", sa.Numeric(20, 2), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("owner_service", sa.Text, nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("data_version", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_programme_targets"),
        sa.UniqueConstraint(
            "programme",
            "year",
            "region_code",
            "key",
            name="uq_programme_targets_programme_year_region_code_key",
        ),
        sa.CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')",
            name="ck_programme_targets_owner_service",
        ),
        sa.CheckConstraint("window_start <= window_end", name="ck_programme_targets_window"),
        schema=S,
    )
    op.execute(
        f"""INSERT INTO {S}.programme_targets
              (programme, programme_name, year, region_code, key, position, name_zh, value, unit,
               owner_service, window_start, window_end, note, data_version)
            SELECT programme, programme, year, region_code, key, position, name_zh, target, unit,
                   owner_service, period_start, period_end, note, data_version
            FROM gateway.programme_targets ORDER BY id"""
    )
    data.load(op.get_bind(), indicators=False)  # the indicators table comes with 0025
    op.create_entity(targets_db.DIRECTORY)
    op.drop_table("programme_targets", schema="gateway")


def downgrade() -> None:
    op.create_table(
        "programme_targets",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("target", sa.Numeric(20, 2), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("owner_service", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("data_version", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_programme_targets"),
        sa.UniqueConstraint(
            "programme",
            "year",
            "region_code",
            "key",
            name="uq_programme_targets_programme_year_region_code_key",
        ),
        sa.CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')",
            name="ck_programme_targets_owner_service",
        ),
        sa.CheckConstraint("period_start <= period_end", name="ck_programme_targets_period"),
        schema="gateway",
    )
    op.execute(
        f"""INSERT INTO gateway.programme_targets
              (programme, year, region_code, key, position, name_zh, target, unit, owner_service,
               period_start, period_end, note, data_version)
            SELECT programme, year, region_code, key, position, name_zh, value, unit, owner_service,
                   window_start, window_end, note, data_version
            FROM {S}.programme_targets ORDER BY id"""
    )
    op.drop_entity(targets_db.DIRECTORY)
    op.drop_table("programme_targets", schema=S)
