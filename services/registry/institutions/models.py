from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Identity, Index, Numeric, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class ServiceInstitution(Base):
    """省级以上示范服务机构(平台): a public service institution or platform recognised at
    provincial or national level (one record per credit code)."""

    __tablename__ = "service_institutions"
    __table_args__ = (
        Index("ix_service_institutions_region_code", "region_code"),
        CheckConstraint("kind IN ('institution', 'platform')", name="kind"),
        CheckConstraint("level IN ('provincial', 'national')", name="level"),
        CheckConstraint("region_code ~ '^[0-9]{6}$'", name="region_code_format"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    credit_code: Mapped[str] = mapped_column(Text, unique=True)
    region_code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    recognised_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportedFigure(Base):
    """A figure another department owns, as reported (append-only: a correction is a new row; the
    latest row per key, region and period_end is the figure)."""

    __tablename__ = "reported_figures"
    __table_args__ = (
        Index("ix_reported_figures_key_region_code_period_end", "key", "region_code", "period_end"),
        CheckConstraint("value >= 0", name="value_non_negative"),
        CheckConstraint("region_code ~ '^[0-9]{6}$'", name="region_code_format"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(Text)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    unit: Mapped[str] = mapped_column(Text)
    source_document: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
