"""The change log is indexed by time, so the feed finds its horizon quickly.

A reader of `GET /v1/events` without a cursor starts at the first row of the last
`EAGLET_EVENTS__RETENTION_DAYS` days (`services/common/changes.py`, `changes_start`: the smallest
(xid, seq) written since then): an index-only range scan from that time instead of a walk over
every older row of the audit trail.

Revision ID: 0019_changes_changed_at
Revises: 0018_jobs_schema
"""

from alembic import op

revision = "0019_changes_changed_at"
down_revision = "0018_jobs_schema"
branch_labels = None
depends_on = None

SCHEMAS = ("registry", "finance", "standards", "gateway")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.create_index("ix_changes_occurred_at", "changes", ["occurred_at", "xid", "seq"], schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.drop_index("ix_changes_occurred_at", table_name="changes", schema=schema)
