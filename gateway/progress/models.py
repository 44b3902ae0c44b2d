"""Published progress bulletins (定期通报进展): numbered snapshots that never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class PublishedBulletin(Base):
    """A bulletin as it stood when an official published it: its whole JSON (`content`) and that
    JSON's SHA-256, numbered `{year}-{region}-{sequence:02d}` within its year and region. Rows are
    only ever inserted (gateway/progress/bulletins.py)."""

    __tablename__ = "published_bulletins"
    __table_args__ = (
        UniqueConstraint("number"),
        UniqueConstraint("year", "region_code", "sequence"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        {"schema": "gateway"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(Text)
    programme: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(6))
    sequence: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_sha256: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
