"""finance.credit_lines: one row per (lender, line_ref)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.finance.models import PostedRecord


class CreditLine(PostedRecord, Base):
    __tablename__ = "credit_lines"
    __table_args__ = (
        UniqueConstraint("lender", "line_ref"),
        Index("ix_credit_lines_lender_borrower_credit_code", "lender", "borrower_credit_code"),
        Index("ix_credit_lines_borrower_region", "borrower_region"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        {"schema": "finance"},
    )

    lender: Mapped[str] = mapped_column(Text)
    line_ref: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    granted_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    closed_on: Mapped[date | None] = mapped_column(Date)
