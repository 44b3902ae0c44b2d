from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class ScaleStatus(Base):
    """A dated 规上 fact: the enterprise is above/below scale from `effective_year`."""

    __tablename__ = "scale_statuses"
    __table_args__ = (
        Index("ix_scale_statuses_credit_code_effective_year", "credit_code", "effective_year"),
        CheckConstraint("status IN ('above', 'below')", name="status"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(Text)
    effective_year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
