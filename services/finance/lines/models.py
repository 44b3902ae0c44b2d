"""finance.credit_lines: one row per (lender, line_ref)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.finance.ledgers import LINES, table_args
from services.finance.models import PostedRecord


class CreditLine(PostedRecord, Base):
    __tablename__ = "credit_lines"
    __table_args__ = (
        # every unique key carries the borrower's credit code and the partition date (services/finance/ledgers.py)
        PrimaryKeyConstraint("borrower_credit_code", "granted_on", "id"),
        UniqueConstraint(
            "lender", "line_ref", "borrower_credit_code", "granted_on", name="uq_credit_lines_natural_key"
        ),
        Index("ix_credit_lines_lender_borrower_credit_code", "lender", "borrower_credit_code"),
        Index("ix_credit_lines_borrower_region", "borrower_region"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        table_args(LINES),
    )

    lender: Mapped[str] = mapped_column(Text)
    line_ref: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    granted_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    closed_on: Mapped[date | None] = mapped_column(Date)
