"""Foundation: the four schemas, each with its append-only change log and idempotency keys.

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common import changes_db

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = ("registry", "finance", "standards", "gateway")


def upgrade() -> None:
    # Which demo data sets `eaglet up` has loaded (first start only).
    op.create_table(
        "eaglet_seeds",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="public",
    )
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        op.create_table(
            "changes",
            sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column(
                "occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
            ),
            sa.Column("actor_subject", sa.Text, nullable=False),
            sa.Column("actor_kind", sa.String(16), nullable=False),
            sa.Column("actor_org", sa.Text),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("entity_type", sa.String(64), nullable=False),
            sa.Column("entity_key", sa.Text, nullable=False),
            sa.Column("before", postgresql.JSONB),
            sa.Column("after", postgresql.JSONB),
            sa.Column("request_id", sa.Text),
            sa.PrimaryKeyConstraint("seq", name="pk_changes"),
            schema=schema,
        )
        op.create_index(
            "ix_changes_entity_type_entity_key", "changes", ["entity_type", "entity_key"], schema=schema
        )
        # Append-only: the audit trail is never edited (services/common/changes_db.py).
        op.create_entity(changes_db.append_only_function(schema))
        op.create_entity(changes_db.append_only_trigger(schema))
        op.create_table(
            "idempotency_keys",
            sa.Column("owner", sa.Text, nullable=False),
            sa.Column("key", sa.String(255), nullable=False),
            sa.Column("request_hash", sa.String(64), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("status_code", sa.Integer),
            sa.Column("content_type", sa.Text),
            sa.Column("response_body", sa.LargeBinary),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("completed_at", sa.DateTime(timezone=True)),
            sa.PrimaryKeyConstraint("owner", "key", name="pk_idempotency_keys"),
            schema=schema,
        )
        op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], schema=schema)


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.drop_table("idempotency_keys", schema=schema)
        op.drop_table("changes", schema=schema)
        op.drop_entity(changes_db.append_only_function(schema))
        op.execute(f"DROP SCHEMA {schema}")
    op.drop_table("eaglet_seeds", schema="public")
