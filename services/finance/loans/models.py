"""finance.loans: one row per (lender, loan_ref), with the derived inclusive flag."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.finance.ledgers import LOANS, table_args
from services.finance.models import PostedRecord


class Loan(PostedRecord, Base):
    __tablename__ = "loans"
    __table_args__ = (
        # every unique key carries the borrower's credit code and the partition date (services/finance/ledgers.py)
        PrimaryKeyConstraint("borrower_credit_code", "issued_on", "id"),
        UniqueConstraint(
            "lender", "loan_ref", "borrower_credit_code", "issued_on", name="uq_loans_natural_key"
        ),
        Index("ix_loans_lender_borrower_credit_code", "lender", "borrower_credit_code"),
        Index("ix_loans_borrower_region", "borrower_region"),
        # first-time borrowers of a period: an index-only scan over the first loans issued in it
        Index(
            "ix_loans_first_issued_on",
            "issued_on",
            postgresql_include=["borrower_credit_code", "borrower_region", "lender", "product"],
            postgresql_where=text("is_first_loan"),
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "outstanding_balance >= 0 AND outstanding_balance <= amount", name="balance_within_amount"
        ),
        CheckConstraint("status IN ('outstanding', 'repaid', 'overdue', 'written_off')", name="status"),
        CheckConstraint(
            "borrower_kind IN ('enterprise', 'individual_business', 'business_owner')", name="borrower_kind"
        ),
        # a business owner is the bank's customer ref beside the enterprise's credit code; nobody else has one
        CheckConstraint(
            "(borrower_kind = 'business_owner') = (customer_ref IS NOT NULL)", name="customer_ref_for_owner"
        ),
        CheckConstraint(
            "(status IN ('repaid', 'written_off')) = (closed_on IS NOT NULL)", name="closed_on_status"
        ),
        table_args(LOANS),
    )

    lender: Mapped[str] = mapped_column(Text)
    loan_ref: Mapped[str] = mapped_column(Text)
    borrower_name: Mapped[str] = mapped_column(Text)
    borrower_size: Mapped[str] = mapped_column(String(8))
    product: Mapped[str] = mapped_column(String(24))
    amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    annual_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    issued_on: Mapped[date] = mapped_column(Date)
    matures_on: Mapped[date] = mapped_column(Date)
    renewal_type: Mapped[str] = mapped_column(String(32))
    is_first_loan: Mapped[bool] = mapped_column(Boolean)
    credit_line_ref: Mapped[str | None] = mapped_column(Text)
    guarantee_ref: Mapped[str | None] = mapped_column(Text)
    outstanding_balance: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    status: Mapped[str] = mapped_column(String(16))
    closed_on: Mapped[date | None] = mapped_column(Date)
    # enterprise | individual_business (个体工商户) | business_owner (小微企业主: the credit code is the
    # enterprise they own, customer_ref the bank's own ref of the owner — no personal ID numbers)
    borrower_kind: Mapped[str] = mapped_column(String(24), server_default=text("'enterprise'"))
    customer_ref: Mapped[str | None] = mapped_column(Text)
    # derived when stored
    matched: Mapped[bool] = mapped_column(Boolean)
    size_class: Mapped[str] = mapped_column(String(8))
    size_source: Mapped[str] = mapped_column(String(8))
    line_total: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    loans_total: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    inclusive: Mapped[bool] = mapped_column(Boolean)
    inclusive_reason: Mapped[str] = mapped_column(String(32))
