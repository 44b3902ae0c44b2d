"""finance.credit_lines: one row per (lender, line_ref)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class CreditLine(Base):
    __tablename__ = "credit_lines"
    __table_args__ = (
        UniqueConstraint("lender", "line_ref"),
        Index("ix_credit_lines_lender_borrower_credit_code", "lender", "borrower_credit_code"),
        Index("ix_credit_lines_borrower_region", "borrower_region"),
        {"schema": "finance"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lender: Mapped[str] = mapped_column(Text)
    line_ref: Mapped[str] = mapped_column(Text)
    borrower_credit_code: Mapped[str] = mapped_column(String(18))
    amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    granted_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    closed_on: Mapped[date | None] = mapped_column(Date)
    borrower_region: Mapped[str] = mapped_column(String(6))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
