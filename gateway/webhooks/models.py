"""The gateway's webhook tables: endpoints with their owners and secrets, one feed cursor per
endpoint and service, deliveries (one per endpoint and event) and each delivery's attempts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.common.auth import Principal
from services.common.models import Base

SCHEMA = "gateway"


OWNER_FIELDS = ("owner_sub", "owner_kind", "owner_org", "owner_region", "owner_scopes", "owner_client_id")


def owner_principal(row: Mapping[str, Any]) -> Principal:
    """An endpoint's owner as the gateway knew them at registration: the principal its feeds are
    read with (`row`: an endpoint's columns)."""
    return Principal(
        sub=row["owner_sub"],
        kind=row["owner_kind"],
        org=row["owner_org"],
        region=row["owner_region"],
        scopes=tuple(row["owner_scopes"] or ()),
        client_id=str(row["owner_client_id"]) if row["owner_client_id"] else None,
    )


class WebhookEndpoint(Base):
    """A subscriber's receiver. Its owner is the caller who registered it, as the gateway knew
    them then (the principal its feeds are read with); only that owner sees or changes it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(
            "owner_kind IN ('bank', 'guarantor', 'certifier', 'official', 'admin')", name="owner_kind"
        ),
        CheckConstraint("cardinality(event_types) > 0", name="has_event_types"),
        CheckConstraint("enabled OR disabled_reason IS NOT NULL", name="disabled_with_reason"),
        Index("ix_webhook_endpoints_owner_sub_created_at_id", "owner_sub", "created_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # The owner: the principal's subject ("client:<id>" for API clients), and its facts.
    owner_sub: Mapped[str] = mapped_column(Text)
    # The API client behind it (None for people): a revoked client's endpoints receive nothing.
    owner_client_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.api_clients.id", ondelete="CASCADE"), index=True
    )
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_org: Mapped[str | None] = mapped_column(Text)
    owner_region: Mapped[str | None] = mapped_column(String(6))
    owner_scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Since when every attempt has failed (None: the last attempt succeeded, or none was made).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def owner(self) -> Principal:
        return owner_principal({f: getattr(self, f) for f in OWNER_FIELDS})


class WebhookSecret(Base):
    """A signing secret of an endpoint, encrypted (gateway/webhooks/secrets.py). Several during a
    rotation: every one not yet expired signs each delivery."""

    __tablename__ = "webhook_secrets"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookCursor(Base):
    """Where an endpoint stands in one service's feed: the events after it are still to fan out."""

    __tablename__ = "webhook_cursors"
    __table_args__ = {"schema": SCHEMA}

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey(f"{SCHEMA}.webhook_endpoints.id", ondelete="CASCADE"),
        primary_key=True,
    )
    service: Mapped[str] = mapped_column(String(16), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The feed's refusal the last time it was read (an expired cursor); None when it read fine.
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint: sent until a 2xx, on the retry schedule. The event id is the
    `webhook-id` of every attempt; one row per endpoint and event (nothing doubled)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("status <> 'pending' OR next_attempt_at IS NOT NULL", name="pending_has_next"),
        # due deliveries, and an endpoint's pending ones (its leases in flight)
        Index(
            "ix_webhook_deliveries_pending_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_pending_endpoint_id",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # an endpoint's delivery log, newest first; retention by age
        Index("ix_webhook_deliveries_endpoint_id_created_at_id", "endpoint_id", "created_at", "id"),
        Index("ix_webhook_deliveries_created_at", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    # The body sent, byte for byte the same on every attempt (the thin event's JSON).
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The lease of the dispatcher sending it now; after locked_until another may take it.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_response: Mapped[str | None] = mapped_column(Text)  # the first 2 KB of the answer
    last_error: Mapped[str | None] = mapped_column(Text)  # why the attempt failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """The log of a delivery: one row per attempt, as it went."""

    __tablename__ = "webhook_attempts"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
