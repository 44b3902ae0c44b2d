"""finance.loan_applications: one row per (lender, application_ref)."""

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


class LoanApplication(Base):
    __tablename__ = "loan_applications"
    __table_args__ = (
        UniqueConstraint("lender", "application_ref"),
        Index("ix_loan_applications_borrower_region", "borrower_region"),
        {"schema": "finance"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lender: Mapped[str] = mapped_column(Text)
    application_ref: Mapped[str] = mapped_column(Text)
    borrower_credit_code: Mapped[str] = mapped_column(String(18))
    applied_on: Mapped[date] = mapped_column(Date)
    amount_requested: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    decision: Mapped[str] = mapped_column(String(16))
    decided_on: Mapped[date | None] = mapped_column(Date)
    borrower_region: Mapped[str] = mapped_column(String(6))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
