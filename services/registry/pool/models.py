from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.registry.pool.tiers import CHECK as TIER_CHECK


class Screening(Base):
    __tablename__ = "screenings"
    # Running screenings are looked up by caller (how many each runs) and by age of heartbeat.
    __table_args__ = (
        Index("ix_screenings_running", "created_by", postgresql_where=text("status = 'running'")),
        CheckConstraint(TIER_CHECK, name="tier"),
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tier: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    rule_set: Mapped[str] = mapped_column(Text)
    rule_version: Mapped[str] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    evaluated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    eligible: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ineligible: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    incomplete: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A run's state: running | done | failed, enterprises evaluated of total,
    # the heartbeat of a background run, when it ended, and its problem when it failed.
    status: Mapped[str] = mapped_column(Text, default="done", server_default="done")
    total: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[Any | None] = mapped_column(JSONB)


class ScreeningResult(Base):
    __tablename__ = "screening_results"
    __table_args__ = (
        CheckConstraint("outcome IN ('eligible', 'ineligible', 'incomplete')", name="outcome"),
        {"schema": "registry"},
    )

    screening_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("registry.screenings.id", ondelete="CASCADE"), primary_key=True
    )
    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE"), primary_key=True
    )
    outcome: Mapped[str] = mapped_column(Text)
    criteria: Mapped[Any] = mapped_column(JSONB)


class PoolDecision(Base):
    """Append-only pool history; the enterprise's active tier is the latest admit/exit."""

    __tablename__ = "pool_decisions"
    __table_args__ = (
        Index("ix_pool_decisions_credit_code_year", "credit_code", "year"),
        CheckConstraint(TIER_CHECK, name="tier"),
        CheckConstraint("decision IN ('admit', 'reject', 'exit')", name="decision"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    credit_code: Mapped[str] = mapped_column(
        Text, ForeignKey("registry.enterprises.credit_code", ondelete="CASCADE")
    )
    tier: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    previous_tier: Mapped[str | None] = mapped_column(Text)
    screening_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("registry.screenings.id", ondelete="SET NULL")
    )
    decided_by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
