"""Catalogue tables: standards and the enterprises that drafted them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base

SCHEMA = "standards"
LEVELS = ("international", "national", "industry", "local", "group", "zhejiang_made")
STATUSES = ("current", "withdrawn")
DEGREES = ("IDT", "MOD", "NEQ")
ROLES = ("lead", "participant")


class Standard(Base):
    __tablename__ = "standards"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint(f"level IN {LEVELS!r}", name="level"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"adoption_degree IN {DEGREES!r}", name="adoption_degree"),
        Index("ix_standards_level_code", "level", "code"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    published_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default="current")
    adoption_international_code: Mapped[str | None] = mapped_column(Text)
    adoption_degree: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StandardDrafter(Base):
    __tablename__ = "standard_drafters"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"), {"schema": SCHEMA})

    standard_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(f"{SCHEMA}.standards.id", ondelete="CASCADE"), primary_key=True
    )
    credit_code: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
