from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class Park(Base):
    """小微企业园: a small and micro enterprise park."""

    __tablename__ = "parks"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        CheckConstraint("star_rating BETWEEN 1 AND 5", name="star_rating"),
        CheckConstraint("region_code ~ '^[0-9]{6}$'", name="region_code_format"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    opened_on: Mapped[date | None] = mapped_column(Date)
    star_rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_on: Mapped[date | None] = mapped_column(Date)
    national_demo_base: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ParkTenant(Base):
    __tablename__ = "park_tenants"
    __table_args__ = (
        Index("ix_park_tenants_credit_code", "credit_code"),
        CheckConstraint("moved_out_on IS NULL OR moved_out_on >= moved_in_on", name="dates"),
        {"schema": "registry"},
    )

    park_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("registry.parks.id", ondelete="CASCADE"), primary_key=True
    )
    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE"), primary_key=True
    )
    moved_in_on: Mapped[date] = mapped_column(Date)
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
