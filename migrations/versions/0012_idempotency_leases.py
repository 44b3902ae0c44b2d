"""Idempotency-Key claims carry their holder and a lease.

`holder` is the process running the request (host:pid:token), `claim` the token of that one run and
`lease_until` when the claim is free to take over unless the holder renews it (it does while the
request runs). A claim whose holder died is taken over when its lease runs out, seconds later,
instead of after a fixed in-flight timeout. Claims left from before have no lease: taken over at
once.

Revision ID: 0012_idempotency_leases
Revises: 0011_registry_region_name
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_idempotency_leases"
down_revision = "0011_registry_region_name"
branch_labels = None
depends_on = None

SCHEMAS = ("registry", "finance", "standards", "gateway")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.add_column("idempotency_keys", sa.Column("holder", sa.Text), schema=schema)
        op.add_column("idempotency_keys", sa.Column("claim", sa.Text), schema=schema)
        op.add_column("idempotency_keys", sa.Column("lease_until", sa.DateTime(timezone=True)), schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        for column in ("lease_until", "claim", "holder"):
            op.drop_column("idempotency_keys", column, schema=schema)
