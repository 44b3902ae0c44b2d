from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class Title(Base):
    """A dated title (称号) or honour: valid_from..valid_to, active unless revoked."""

    __tablename__ = "titles"
    __table_args__ = (
        Index("ix_titles_credit_code", "credit_code"),
        Index("ix_titles_kind_valid_to", "kind", "valid_to"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    rule_version: Mapped[str | None] = mapped_column(Text)
    source_document: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
