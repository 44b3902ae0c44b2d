from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Computed, Date, DateTime, Index, Integer, Numeric, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import Base
from services.registry.pool.tiers import CHECK as TIER_CHECK
from services.registry.reference.db import INDUSTRY_SECTION


class Enterprise(Base):
    __tablename__ = "enterprises"
    # The list reads a page in credit-code order from the index matching its filters (a region is
    # a county code or a city prefix `substr(region_code, 1, 4)`); names are searched by prefix
    # (text_pattern_ops) and by grams (GIN); the statistics read a region by credit code.
    __table_args__ = (
        Index(
            "ix_enterprises_region_code",
            "region_code",
            "credit_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index(
            "ix_enterprises_tier_region_code",
            "tier",
            "region_code",
            "credit_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
            postgresql_where=text("tier IS NOT NULL"),
        ),
        Index("ix_enterprises_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index(
            "ix_enterprises_industry_code",
            "industry_code",
            "credit_code",
            postgresql_ops={"industry_code": "text_pattern_ops"},
        ),
        Index("ix_enterprises_name_grams", "name_grams", postgresql_using="gin"),
        Index("ix_enterprises_credit_code_region_code", "credit_code", postgresql_include=["region_code"]),
        Index("ix_enterprises_city_credit_code", text("substr(region_code, 1, 4)"), "credit_code"),
        Index(
            "ix_enterprises_tier_city_credit_code",
            "tier",
            text("substr(region_code, 1, 4)"),
            "credit_code",
            postgresql_where=text("tier IS NOT NULL"),
        ),
        Index(
            "ix_enterprises_tier_credit_code",
            "tier",
            "credit_code",
            postgresql_where=text("tier IS NOT NULL"),
        ),
        Index(
            "ix_enterprises_city_name",
            text("substr(region_code, 1, 4)"),
            "name",
            postgresql_ops={"name": "text_pattern_ops"},
        ),
        Index(
            "ix_enterprises_county_name",
            "region_code",
            "name",
            postgresql_ops={"name": "text_pattern_ops"},
        ),
        CheckConstraint("char_length(credit_code) = 18", name="credit_code_length"),
        CheckConstraint("region_code ~ '^[0-9]{6}$'", name="region_code_format"),
        CheckConstraint("industry_code ~ '^[0-9]{4}$'", name="industry_code_format"),
        CheckConstraint("registered_capital >= 0", name="registered_capital_nonnegative"),
        CheckConstraint("size_class IN ('large', 'medium', 'small', 'micro')", name="size_class"),
        CheckConstraint("scale_status IN ('above', 'below')", name="scale_status"),
        CheckConstraint(TIER_CHECK, name="tier"),
        {"schema": "registry"},
    )

    credit_code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_grams: Mapped[list[str]] = mapped_column(ARRAY(Text), Computed("registry.name_grams(name)"))
    region_code: Mapped[str] = mapped_column(Text)
    industry_code: Mapped[str] = mapped_column(Text)
    industry_section: Mapped[str | None] = mapped_column(Text, Computed(INDUSTRY_SECTION))
    established_on: Mapped[date | None] = mapped_column(Date)
    registered_capital: Mapped[Decimal | None] = mapped_column(Numeric(17, 2))
    address: Mapped[str | None] = mapped_column(Text)
    legal_representative: Mapped[str | None] = mapped_column(Text)
    rule_set_version: Mapped[str | None] = mapped_column(Text)
    # Derived by triggers on the fact tables (latest indicator year, latest scale fact, active tier).
    size_class: Mapped[str | None] = mapped_column(Text, server_default=None)
    size_year: Mapped[int | None] = mapped_column(Integer)
    scale_status: Mapped[str | None] = mapped_column(Text)
    scale_year: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(Text)
    tier_year: Mapped[int | None] = mapped_column(Integer)
    # The kinds of the titles active today and the last day that set holds (titles/db.py).
    active_titles: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    titles_until: Mapped[date] = mapped_column(Date, server_default="infinity")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
