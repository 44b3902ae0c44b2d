"""Screenings run in the background: a status, progress, heartbeat and the error of a run.

A screening over more enterprises than `EAGLET_SCREENING__BACKGROUND_ABOVE` is answered 202 and
evaluated in a worker process (services/registry/pool/runner.py). Its row says how far it got:
`status` running | done | failed, `progress` (enterprises evaluated) of `total`, `heartbeat_at`
(written while it runs: a run whose heartbeat is older than the lease is reported failed — its
process died), `finished_at`, and `error`, the run's problem (RFC 9457 body) when it failed.
Screenings stored before this migration were answered in the request that made them: done.

Revision ID: 0013_registry_screening_runs
Revises: 0012_idempotency_leases
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_registry_screening_runs"
down_revision = "0012_idempotency_leases"
branch_labels = None
depends_on = None

S = "registry"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("screenings", sa.Column("status", sa.Text, nullable=False, server_default="done"), schema=S)
    op.add_column("screenings", sa.Column("total", sa.Integer), schema=S)
    op.add_column(
        "screenings", sa.Column("progress", sa.Integer, nullable=False, server_default="0"), schema=S
    )
    op.add_column("screenings", sa.Column("heartbeat_at", TS), schema=S)
    op.add_column("screenings", sa.Column("finished_at", TS), schema=S)
    op.add_column("screenings", sa.Column("error", postgresql.JSONB), schema=S)
    op.execute(f"UPDATE {S}.screenings SET finished_at = created_at, total = evaluated, progress = evaluated")
    # Named by the metadata's convention: ck_screenings_status.
    op.create_check_constraint("status", "screenings", "status IN ('running', 'done', 'failed')", schema=S)
    # Running screenings are looked up by caller (how many each runs) and by age of heartbeat.
    op.create_index(
        "ix_screenings_running",
        "screenings",
        ["created_by"],
        schema=S,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_screenings_running", "screenings", schema=S)
    op.drop_constraint("ck_screenings_status", "screenings", schema=S)
    for column in ("error", "finished_at", "heartbeat_at", "progress", "total", "status"):
        op.drop_column("screenings", column, schema=S)
