"""采标 (standards adoption) reports: numerator, denominator and basis per enterprise and year."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Integer, SmallInteger, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base

SCHEMA = "standards"


class AdoptionReport(Base):
    __tablename__ = "adoption_reports"
    __table_args__ = (
        CheckConstraint("main_products > 0", name="main_products"),
        CheckConstraint("adopting_count >= 0 AND adopting_count <= main_products", name="adopting_count"),
        {"schema": SCHEMA},
    )

    credit_code: Mapped[str] = mapped_column(Text, primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    main_products: Mapped[int] = mapped_column(Integer)
    adopting_count: Mapped[int] = mapped_column(Integer)
    adopting_products: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    basis: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
