"""The gateway schema: API clients and their keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base

SCHEMA = "gateway"


class ApiClient(Base):
    """A machine client (a bank's system, a certification body, …) or an admin tool."""

    __tablename__ = "api_clients"
    __table_args__ = (
        CheckConstraint("kind IN ('bank', 'guarantor', 'certifier', 'official', 'admin')", name="kind"),
        CheckConstraint("rate_per_s IS NULL OR rate_per_s > 0", name="rate_positive"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    org: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(6))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    # Requests per second for this client; NULL: the rate of its kind (settings).
    rate_per_s: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """One key of a client (several during a rotation). Only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.api_clients.id", ondelete="CASCADE"), index=True
    )
    # The first characters of the key ("egk_AbCd1234"), to recognise it in listings and logs.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
