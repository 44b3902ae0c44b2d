"""The change log records the writing transaction (`xid xid8`), so the feed can follow commit order.

`seq` is an identity handed out before commit: a reader following `seq > last` skips a row whose
transaction commits after a later `seq` was already read. Each row now carries its transaction's
id (default `pg_current_xact_id()`), indexed with `seq`; the feed reads by (xid, seq) below the
snapshot's xmin (`services/common/changes.py`, `changes_after`). Existing rows all take this
migration's xid: they are committed, so that is an order a reader can follow.

Revision ID: 0017_changes_commit_order
Revises: 0016_check_constraint_names
"""

from alembic import op

revision = "0017_changes_commit_order"
down_revision = "0016_check_constraint_names"
branch_labels = None
depends_on = None

SCHEMAS = ("registry", "finance", "standards", "gateway")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"ALTER TABLE {schema}.changes ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
        op.create_index("ix_changes_xid_seq", "changes", ["xid", "seq"], schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.drop_index("ix_changes_xid_seq", table_name="changes", schema=schema)
        op.drop_column("changes", "xid", schema=schema)
