from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RegionOut(BaseModel):
    code: str
    name: str
    level: Literal["province", "city", "county"]
    kind: str = Field(description="province | city | district | county | county_city")
    parent: str | None
    retired: bool
    retired_on: str | None = None
    note: str | None = None
    successors: list[str] = Field(default_factory=list)


class RegionList(BaseModel):
    version: str
    items: list[RegionOut]


class RegionDetail(RegionOut):
    version: str
    children: list[RegionOut] = Field(default_factory=list)


class IndustryOut(BaseModel):
    code: str
    name: str
    level: Literal["section", "division", "group", "class"]
    parent: str | None
    section: str


class IndustryList(BaseModel):
    version: str
    items: list[IndustryOut]


class CreditCodeError(BaseModel):
    code: str
    message: str


class CreditCodeOut(BaseModel):
    valid: bool
    normalized: str
    errors: list[CreditCodeError]
    expected_check_character: str | None = None
    registration_authority: str | None = None
    category: str | None = None
    area_code: str | None = None


class DecidingIndicator(BaseModel):
    indicator: Literal["employees", "revenue", "total_assets"]
    value: str = Field(description="Persons, or yuan for money")
    meets: str | None = Field(description="The tier whose lower bound this indicator meets (null for micro)")
    bound_met: str | None
    fails: str | None = Field(description="The next tier up, whose lower bound this indicator misses")
    bound_missed: str | None


class SizeOut(BaseModel):
    size: Literal["large", "medium", "small", "micro"] | None = Field(
        description="Null when the industry is outside the size rules (in_scope false)"
    )
    in_scope: bool = Field(
        description="False for industries the 2017 办法 does not size (J, P, Q84, S, T, 53, 7040)"
    )
    out_of_scope_reason: str | None = Field(
        None, description="Why the industry is not sized (in_scope false)"
    )
    rule_version: str
    industry_group: str | None = Field(description="Row of the threshold table applied, e.g. industry")
    industry_group_label: str | None
    decided_by: list[DecidingIndicator]
    thresholds: dict[str, dict[str, str]] = Field(
        description="The row's lower bounds per indicator and tier, in persons or yuan"
    )
