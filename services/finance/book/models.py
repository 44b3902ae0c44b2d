"""finance.loan_book_reports: a bank's whole loan book (各项贷款) at a period end, as it reports it.

The platform holds only the small-micro loans banks post; “两增” compares their growth with the
growth of the bank's whole book, which only the bank knows. One row per (lender, period_end)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class LoanBookReport(Base):
    __tablename__ = "loan_book_reports"
    __table_args__ = (
        UniqueConstraint("lender", "period_end"),
        CheckConstraint("all_loans_balance >= 0", name="balance_not_negative"),
        CheckConstraint("all_loans_borrowers >= 0", name="borrowers_not_negative"),
        {"schema": "finance"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    lender: Mapped[str] = mapped_column(Text)
    period_end: Mapped[date] = mapped_column(Date)
    all_loans_balance: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    all_loans_borrowers: Mapped[int] = mapped_column(BigInteger)
    rule_set_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
