"""finance.guarantees: one row per (guarantor, guarantee_ref)."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.finance.ledgers import GUARANTEES, table_args
from services.finance.models import PostedRecord


class Guarantee(PostedRecord, Base):
    __tablename__ = "guarantees"
    __table_args__ = (
        # every unique key carries the borrower's credit code and the partition date (services/finance/ledgers.py)
        PrimaryKeyConstraint("borrower_credit_code", "starts_on", "id"),
        UniqueConstraint(
            "guarantor",
            "guarantee_ref",
            "borrower_credit_code",
            "starts_on",
            name="uq_guarantees_natural_key",
        ),
        Index("ix_guarantees_lender_code", "lender_code"),
        Index("ix_guarantees_borrower_region", "borrower_region"),
        CheckConstraint("guaranteed_amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('active', 'released', 'compensated')", name="status"),
        table_args(GUARANTEES),
    )

    guarantor: Mapped[str] = mapped_column(Text)
    guarantee_ref: Mapped[str] = mapped_column(Text)
    lender_code: Mapped[str] = mapped_column(Text)
    loan_ref: Mapped[str | None] = mapped_column(Text)
    guaranteed_amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    outstanding_amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    fee_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    released_on: Mapped[date | None] = mapped_column(Date)
    compensated_on: Mapped[date | None] = mapped_column(Date)
    compensated_amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    recovered_amount: Mapped[Decimal] = mapped_column(Numeric(17, 2))
    counter_guarantee: Mapped[bool] = mapped_column(Boolean)
    reguarantee_share: Mapped[Decimal] = mapped_column(Numeric(7, 4))
