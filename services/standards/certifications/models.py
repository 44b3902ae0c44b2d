"""Certificate tables: the current state per (certifier, certificate_no) and its append-only history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base

SCHEMA = "standards"
STATUSES = ("valid", "suspended", "revoked", "cancelled")
TERMINAL = ("revoked", "cancelled")


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("certifier", "certificate_no"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("expires_on > issued_on", name="validity"),
        Index("ix_certificates_certificate_no", "certificate_no"),
        Index("ix_certificates_certifier_id", "certifier", "id"),
        Index("ix_certificates_holder_credit_code", "holder_credit_code"),
        Index("ix_certificates_standard_code", "standard_code"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    certifier: Mapped[str] = mapped_column(Text)
    certificate_no: Mapped[str] = mapped_column(Text)
    holder_credit_code: Mapped[str] = mapped_column(Text)
    holder_name: Mapped[str] = mapped_column(Text)
    product: Mapped[str] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    standard_code: Mapped[str] = mapped_column(Text)
    rule_code: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    status_effective_on: Mapped[date] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    rule_set_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CertificateHistory(Base):
    """One row per accepted change (created or updated), never edited (trigger-enforced)."""

    __tablename__ = "certificate_history"
    __table_args__ = (
        UniqueConstraint("certificate_id", "revision"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("action IN ('created', 'updated')", name="action"),
        {"schema": SCHEMA},
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    certificate_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(f"{SCHEMA}.certificates.id", ondelete="RESTRICT")
    )
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    certifier: Mapped[str] = mapped_column(Text)
    certificate_no: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    status_effective_on: Mapped[date] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rule_set_version: Mapped[str] = mapped_column(String(32))
    pushed_by: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
