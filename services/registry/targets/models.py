"""The programme targets table (domain.md §1): data, one row per programme, year, region and key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base


class ProgrammeTarget(Base):
    """A programme target for a year and region. Other services and the gateway read it through
    the view `registry.programme_target_directory` (docs/contracts.md), never this table."""

    __tablename__ = "programme_targets"
    __table_args__ = (
        UniqueConstraint("programme", "year", "region_code", "key"),
        CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')", name="owner_service"
        ),
        CheckConstraint("window_start <= window_end", name="window"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    programme: Mapped[str] = mapped_column(Text)
    programme_name: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(6))
    key: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(Text)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    unit: Mapped[str] = mapped_column(Text)
    # registry | finance | standards | none (not tracked by this platform)
    owner_service: Mapped[str] = mapped_column(Text)
    # The period the figure is measured over and the bulletin's elapsed share is taken of.
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    data_version: Mapped[str] = mapped_column(Text)


class ProgrammeIndicator(Base):
    """A quantitative commitment of a programme: one bulletin row, whether or not a region has a
    target for it. Loaded from the data file with the programme's own targets (`data.py`); the
    yearly targets of every region name one of these keys. Read through the view
    `registry.programme_indicator_directory`."""

    __tablename__ = "programme_indicators"
    __table_args__ = (
        UniqueConstraint("programme", "key"),
        CheckConstraint(
            "owner_service IN ('registry', 'finance', 'standards', 'none')", name="owner_service"
        ),
        CheckConstraint("default_window_years >= 1", name="default_window_years"),
        {"schema": "registry"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    programme: Mapped[str] = mapped_column(Text)
    programme_name: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    owner_service: Mapped[str] = mapped_column(Text)
    # A target set for year Y without a window covers the `default_window_years` years up to Y.
    default_window_years: Mapped[int] = mapped_column(Integer)
    source_document: Mapped[str] = mapped_column(Text)
    # false: the official definition or window is not settled (docs/definitions.md)
    settled: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    data_version: Mapped[str] = mapped_column(Text)
