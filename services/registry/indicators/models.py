from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class Indicators(Base):
    """One enterprise's annual figures (money in yuan) and the size class they yield."""

    __tablename__ = "indicators"
    # The statistics read a year's rows, the cloud figure only enterprises on the cloud and the
    # CNC figure only enterprises reporting CNC figures.
    __table_args__ = (
        Index("ix_indicators_year", "year"),
        Index("ix_indicators_year_credit_code", "year", "credit_code", postgresql_where=text("on_cloud")),
        Index(
            "ix_indicators_year_credit_code_cnc",
            "year",
            "credit_code",
            postgresql_where=text("cnc_denominator IS NOT NULL"),
        ),
        CheckConstraint("year BETWEEN 1949 AND 2200", name="year_range"),
        CheckConstraint("size_class IN ('large', 'medium', 'small', 'micro')", name="size_class"),
        CheckConstraint("cnc_basis IN ('count', 'value')", name="cnc_basis"),
        CheckConstraint(
            "cnc_numerator IS NULL OR cnc_denominator IS NULL OR cnc_numerator <= cnc_denominator",
            name="cnc_fraction",
        ),
        CheckConstraint("market_share_scope IN ('national', 'global')", name="market_share_scope"),
        {"schema": "registry"},
    )

    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    employees: Mapped[int | None] = mapped_column(Integer)
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    main_business_revenue: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    total_assets: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    total_liabilities: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    net_profit: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    rd_expense: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    rd_staff: Mapped[int | None] = mapped_column(Integer)
    invention_patents: Mapped[int | None] = mapped_column(Integer)
    cnc_numerator: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    cnc_denominator: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    cnc_basis: Mapped[str | None] = mapped_column(Text)
    on_cloud: Mapped[bool | None] = mapped_column(Boolean)
    export_revenue: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    market_share_scope: Mapped[str | None] = mapped_column(Text)
    market_share_rank: Mapped[int | None] = mapped_column(Integer)
    niche_years: Mapped[int | None] = mapped_column(Integer)
    evaluation_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    size_class: Mapped[str | None] = mapped_column(Text)
    size_rule_version: Mapped[str | None] = mapped_column(Text)
    size_decided_by: Mapped[Any | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
