"""Webhooks at the gateway: endpoints (owner, URL, event types, state), their encrypted signing
secrets (several during a rotation), one feed cursor per endpoint and service, deliveries (one per
endpoint and event: the webhook-id, the body, the retry state and lease) and each attempt's log.

Revision ID: 0020_gateway_webhooks
Revises: 0019_changes_changed_at
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_gateway_webhooks"
down_revision = "0019_changes_changed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("owner_sub", sa.Text(), nullable=False),
        sa.Column("owner_client_id", sa.UUID(), nullable=True),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_org", sa.Text(), nullable=True),
        sa.Column("owner_region", sa.String(length=6), nullable=True),
        sa.Column("owner_scopes", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "owner_kind IN ('bank', 'guarantor', 'certifier', 'official', 'admin')",
            name=op.f("ck_webhook_endpoints_owner_kind"),
        ),
        sa.CheckConstraint("cardinality(event_types) > 0", name=op.f("ck_webhook_endpoints_has_event_types")),
        sa.CheckConstraint(
            "enabled OR disabled_reason IS NOT NULL", name=op.f("ck_webhook_endpoints_disabled_with_reason")
        ),
        sa.ForeignKeyConstraint(
            ["owner_client_id"],
            ["gateway.api_clients.id"],
            name=op.f("fk_webhook_endpoints_owner_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        schema="gateway",
    )
    op.create_index(
        op.f("ix_webhook_endpoints_owner_client_id"),
        "webhook_endpoints",
        ["owner_client_id"],
        unique=False,
        schema="gateway",
    )
    op.create_index(
        "ix_webhook_endpoints_owner_sub_created_at_id",
        "webhook_endpoints",
        ["owner_sub", "created_at", "id"],
        unique=False,
        schema="gateway",
    )
    op.create_table(
        "webhook_cursors",
        sa.Column("endpoint_id", sa.UUID(), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway.webhook_endpoints.id"],
            name=op.f("fk_webhook_cursors_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "service", name=op.f("pk_webhook_cursors")),
        schema="gateway",
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("endpoint_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease", sa.UUID(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'pending' OR next_attempt_at IS NOT NULL",
            name=op.f("ck_webhook_deliveries_pending_has_next"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway.webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name=op.f("uq_webhook_deliveries_endpoint_id_event_id")
        ),
        schema="gateway",
    )
    op.create_index(
        "ix_webhook_deliveries_created_at",
        "webhook_deliveries",
        ["created_at"],
        unique=False,
        schema="gateway",
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id_created_at_id",
        "webhook_deliveries",
        ["endpoint_id", "created_at", "id"],
        unique=False,
        schema="gateway",
    )
    op.create_index(
        "ix_webhook_deliveries_pending_endpoint_id",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at"],
        unique=False,
        schema="gateway",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_pending_next_attempt_at",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        schema="gateway",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("endpoint_id", sa.UUID(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway.webhook_endpoints.id"],
            name=op.f("fk_webhook_secrets_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
        schema="gateway",
    )
    op.create_index(
        op.f("ix_webhook_secrets_endpoint_id"),
        "webhook_secrets",
        ["endpoint_id"],
        unique=False,
        schema="gateway",
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["gateway.webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        schema="gateway",
    )
    op.create_index(
        op.f("ix_webhook_attempts_delivery_id"),
        "webhook_attempts",
        ["delivery_id"],
        unique=False,
        schema="gateway",
    )


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "webhook_secrets",
        "webhook_deliveries",
        "webhook_cursors",
        "webhook_endpoints",
    ):
        op.drop_table(table, schema="gateway")
