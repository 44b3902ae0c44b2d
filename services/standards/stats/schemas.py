"""Statistics response."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from services.common.types import Rate


class Ratio(BaseModel):
    rate: Rate | None = Field(
        description="numerator ÷ denominator in percent (2 places); null if no denominator"
    )
    numerator: int
    denominator: int


class Figures(BaseModel):
    intl_standards_led: int
    zhejiang_made_standards: int
    pinzibiao_smes: int
    adoption_rate: Ratio


class GroupFigures(Figures):
    region_code: str


class TargetOut(BaseModel):
    value: str | None = Field(description="The figure for the year and region (decimal string)")
    unit: str
    definition: str
    target: str = Field(description="The programme's target for the figure")
    programme: str


class StatsOut(Figures):
    year: int
    region: str | None = Field(description="The region asked for (null: the whole province / no limit)")
    as_of: date = Field(description="31 December of the year")
    groups: list[GroupFigures] | None = None
    targets: dict[str, TargetOut]
