from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class Target(BaseModel):
    value: str | None = Field(
        description="The actual figure for the year and region (decimal string; null: no data)"
    )
    target: str = Field(description="The programme's province-wide target for this key")
    unit: Literal["enterprises", "yuan", "percent", "parks", "standards"]
    definition: str


class CncBasis(BaseModel):
    numerator: str
    denominator: str
    rate: str | None
    enterprises: int


class Figures(BaseModel):
    tech_smes: int = Field(description="Enterprises with an active tech_sme title on as_of")
    high_tech: int = Field(description="Enterprises with an active high_tech title on as_of")
    net_new_above_scale: int = Field(
        description="Above-scale at the end of year minus above-scale at the end of baseline_year (= entries − exits)"
    )
    above_scale_entries: int = Field(description="小升规: not above at baseline, above at year")
    above_scale_exits: int = Field(description="Above at baseline, not above at year")
    above_scale: int = Field(description="Above-scale enterprises at the end of year")
    above_scale_baseline: int
    champion_candidates: int = Field(description="Pool tier champion_candidate held at the end of year")
    champions: int = Field(description="Pool tier champion held at the end of year")
    cloud_enterprises: int = Field(description="Enterprises whose indicators for year report on_cloud")
    champion_cnc_rate: str | None = Field(
        description="Σ numerator ÷ Σ denominator × 100 over champion and champion_candidate enterprises' "
        "indicators for year, count basis (percent)"
    )
    champion_cnc: dict[str, CncBasis] = Field(description="The same sums by basis (count, value)")
    parks: int = Field(description="Parks opened by as_of (or without an opening date)")
    park_tenants: int = Field(description="Distinct enterprises with a tenancy in force on as_of")
    star_parks: int = Field(description="Parks rated 4 or 5 stars (rated by as_of)")


class PoolSizes(BaseModel):
    seedling: int = 0
    specialized: int = 0
    champion_candidate: int = 0
    champion: int = 0


class GroupStats(BaseModel):
    region_code: str
    region_name: str | None
    figures: Figures
    pool: PoolSizes


class StatsOut(BaseModel):
    year: int
    baseline_year: int
    as_of: date = Field(description="End of year, or today for the current year")
    region: str | None = Field(description="Region prefix the figures cover (null: the province)")
    figures: Figures
    pool: PoolSizes
    targets: dict[str, Target] = Field(
        description="Registry-owned programme targets: the actual figure (`value`) beside the target, docs/contracts.md"
    )
    groups: list[GroupStats] | None = None
