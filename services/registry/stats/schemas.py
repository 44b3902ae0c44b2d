from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class Target(BaseModel):
    value: str | None = Field(
        description="The actual figure for the year and region (decimal string; null: no data)"
    )
    target: str = Field(description="The programme's province-wide target for this key")
    unit: Literal["enterprises", "yuan", "percent", "parks", "standards", "apps", "institutions"]
    definition: str
    source: str | None = Field(
        None,
        description="A reported figure's source document (the latest report for the key, region and period)",
    )


class CncBasis(BaseModel):
    numerator: str
    denominator: str
    rate: str | None
    enterprises: int


class Figures(BaseModel):
    tech_smes: int = Field(description="Enterprises with an active tech_sme title on as_of")
    high_tech: int = Field(description="Enterprises with an active high_tech title on as_of")
    net_new_above_scale: int = Field(
        description="净增小升规, industrial (B, C, D) enterprises only: above_scale_entries − above_scale_exits"
    )
    above_scale_entries: int = Field(
        description="小升规: above at the end of year, not at the end of baseline_year, and the scale fact "
        "before their entry into above was `below`"
    )
    above_scale_new_entrants: int = Field(
        description="新建投产: above at the end of year, not at the end of baseline_year, with no scale fact "
        "before their entry into above; not counted in net_new_above_scale (listed in the response)"
    )
    above_scale_exits: int = Field(
        description="Above at the end of baseline_year, not above at the end of year"
    )
    above_scale: int = Field(description="Industrial above-scale enterprises at the end of year")
    above_scale_baseline: int = Field(
        description="Industrial above-scale enterprises at the end of baseline_year"
    )
    champion_candidates: int = Field(description="Pool tier champion_candidate held at the end of year")
    champions: int = Field(description="Pool tier champion held at the end of year")
    cloud_enterprises: int = Field(
        description="企业上云 (stock): enterprises whose indicators of any year up to year report on_cloud"
    )
    champion_cnc_rate: str | None = Field(
        description="Σ numerator ÷ Σ denominator × 100 over champion and champion_candidate enterprises' "
        "indicators for year, count basis (percent)"
    )
    champion_cnc: dict[str, CncBasis] = Field(description="The same sums by basis (count, value)")
    parks: int = Field(description="Parks opened by as_of (or without an opening date)")
    park_tenants: int = Field(description="Distinct enterprises with a tenancy in force on as_of")
    star_parks: int = Field(description="Parks rated 4 or 5 stars (rated by as_of)")
    national_demo_bases: int = Field(
        0, description="Parks with national_demo_base true (国家级小微企业创业创新示范基地), opened by as_of"
    )
    service_institutions: int | None = Field(
        None,
        description="Service institutions and platforms recognised by as_of (the total only; null in groups)",
    )
    county_platform_coverage: str | None = Field(
        None,
        description="Current counties of the region with ≥ 1 platform recognised by as_of ÷ all its current "
        "counties × 100 (percent, 2 places; the total only)",
    )


class Reported(BaseModel):
    value: str = Field(description="Decimal string in unit")
    unit: str
    period_end: date
    source_document: str
    reported_at: datetime = Field(description="When this (latest) report was appended")


class NewEntrant(BaseModel):
    credit_code: str
    name: str
    region_code: str
    year: int = Field(description="Effective year of its first scale fact (above)")


class PoolSizes(BaseModel):
    """Enterprises holding each tier (services/registry/pool/tiers.py) at the end of the year."""

    seedling: int = 0
    innovative: int = 0
    specialized: int = 0
    little_giant: int = 0
    champion_candidate: int = 0
    champion: int = 0


class GroupStats(BaseModel):
    region_code: str
    region_name: str | None
    figures: Figures
    pool: PoolSizes


class StatsOut(BaseModel):
    year: int
    baseline_year: int = Field(
        description="Cumulative figures count from its end: the programme's baseline (data; 2019 for "
        "chuying-2022), or year − 1 for a year not after it, or as asked"
    )
    as_of: date = Field(description="End of year, or today for the current year")
    region: str | None = Field(description="Region prefix the figures cover (null: the province)")
    figures: Figures
    pool: PoolSizes
    targets: dict[str, Target] = Field(
        description="Registry-owned programme targets: the actual figure (`value`) beside the target, docs/contracts.md"
    )
    reported: dict[str, Reported] = Field(
        default_factory=dict,
        description="Figures other departments own (POST /v1/reported-figures) for exactly this region: per key, "
        "the latest period ending in the year up to as_of, the latest report for it",
    )
    groups: list[GroupStats] | None = None
    above_scale_new_entrants: list[NewEntrant] = Field(
        default_factory=list,
        description="新建投产 entrants of figures.above_scale_new_entrants (whole region, by credit code)",
    )
