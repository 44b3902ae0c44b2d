"""finance.institutions: banks and guarantee institutions (a machine client's org is its code)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class Institution(Base):
    __tablename__ = "institutions"
    __table_args__ = (
        CheckConstraint("kind IN ('bank', 'guarantor')", name="kind"),
        {"schema": "finance"},
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    net_assets: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    small_micro_focused: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
