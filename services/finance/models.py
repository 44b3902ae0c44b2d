"""Columns every institution-posted record has (loans, credit lines, applications, guarantees)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column


class PostedRecord:
    """Surrogate id, the borrower as reported (with the region it resolved to), the rule-set
    version that accepted the record, and its timestamps."""

    # the primary key (borrower_credit_code, date, id) is each ledger's (services/finance/ledgers.py)
    id: Mapped[int] = mapped_column(BigInteger, Identity())
    borrower_credit_code: Mapped[str] = mapped_column(String(18))
    borrower_region: Mapped[str] = mapped_column(String(6))
    rule_set_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
