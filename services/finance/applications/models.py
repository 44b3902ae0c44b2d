"""finance.loan_applications: one row per (lender, application_ref)."""

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
from services.finance.ledgers import APPLICATIONS, table_args
from services.finance.models import PostedRecord


class LoanApplication(PostedRecord, Base):
    __tablename__ = "loan_applications"
    __table_args__ = (
        # every unique key carries the borrower's credit code and the partition date (services/finance/ledgers.py)
        PrimaryKeyConstraint("borrower_credit_code", "applied_on", "id"),
        UniqueConstraint(
            "lender",
            "application_ref",
            "borrower_credit_code",
            "applied_on",
            name="uq_loan_applications_natural_key",
        ),
        Index("ix_loan_applications_borrower_region", "borrower_region"),
        CheckConstraint("decision IN ('pending', 'approved', 'rejected')", name="decision"),
        table_args(APPLICATIONS),
    )

    lender: Mapped[str] = mapped_column(Text)
    application_ref: Mapped[str] = mapped_column(Text)
    applied_on: Mapped[date] = mapped_column(Date)
    amount_requested: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    decision: Mapped[str] = mapped_column(String(16))
    decided_on: Mapped[date | None] = mapped_column(Date)
    borrower_size: Mapped[str | None] = mapped_column(String(8))  # as the bank reports it, if it does
    # derived when stored, as for loans: the registry's size for the application year, else the bank's
    size_class: Mapped[str | None] = mapped_column(String(8))
    size_source: Mapped[str | None] = mapped_column(String(8))
