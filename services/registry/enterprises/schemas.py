from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.common.types import CreditCode, Money, Text, text
from services.registry.reference.data import industry_class_problem, region

SizeClass = Literal["large", "medium", "small", "micro"]
Tier = Literal["seedling", "specialized", "champion_candidate", "champion"]
ScaleStatus = Literal["above", "below"]
Name = text(StringConstraints(strip_whitespace=True, min_length=1, max_length=200))
# A registered address is one line, as on the business licence.
Address = text(StringConstraints(strip_whitespace=True, max_length=500))


def check_region(v: str) -> str:
    v = v.strip()
    r = region(v)
    if r is None or r.level != "county":
        raise ValueError(
            f"{v} is not a known Zhejiang county-level region code (GB/T 2260; see GET /v1/regions)"
        )
    return v


def check_industry(v: str) -> str:
    v = v.strip()
    problem = industry_class_problem(v)
    if problem:
        raise ValueError(problem)
    return v


class EnterpriseFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    established_on: date | None = Field(None, description="Date of establishment (YYYY-MM-DD)")
    registered_capital: Money | None = Field(None, description="Registered capital in yuan")
    address: Address | None = None
    legal_representative: text(StringConstraints(strip_whitespace=True, max_length=100)) | None = None

    @field_validator("established_on")
    @classmethod
    def _established(cls, v: date | None) -> date | None:
        if v is not None and not (date(1949, 1, 1) <= v <= date.today()):
            raise ValueError("established_on must lie between 1949-01-01 and today")
        return v


class EnterpriseCreate(EnterpriseFields):
    credit_code: CreditCode
    name: Name
    region_code: Text = Field(
        description="County-level GB/T 2260 code (current, or retired and flagged)", examples=["330106"]
    )
    industry_code: Text = Field(description="GB/T 4754-2017 class (4 digits)", examples=["3311"])

    _region = field_validator("region_code")(classmethod(lambda cls, v: check_region(v)))
    _industry = field_validator("industry_code")(classmethod(lambda cls, v: check_industry(v)))


class EnterprisePatch(EnterpriseFields):
    name: Name | None = None
    region_code: Text | None = None
    industry_code: Text | None = None

    @field_validator("region_code")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else check_region(v)

    @field_validator("industry_code")
    @classmethod
    def _industry(cls, v: str | None) -> str | None:
        return None if v is None else check_industry(v)


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    region_code: str
    region_name: str | None = None
    city_code: str
    industry_code: str
    industry_section: str | None
    size_class: SizeClass | None = Field(None, description="From the latest indicator year")
    size_year: int | None = None
    scale_status: ScaleStatus | None = Field(None, description="Latest effective 规上 status")
    scale_year: int | None = None
    tier: Tier | None = Field(None, description="Active cultivation-pool tier")
    tier_year: int | None = None
    titles: list[str] = Field(default_factory=list, description="Kinds of the titles active today")
    established_on: date | None = None
    registered_capital: Money | None = None
    address: str | None = None
    legal_representative: str | None = None
    rule_set_version: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
