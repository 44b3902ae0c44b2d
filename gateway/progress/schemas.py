"""The progress bulletin (定期通报进展): every programme target with its actual and status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from services.common.types import RegionCode, text

Status = Literal["met", "on_track", "behind", "no_target", "not_tracked"]
DecimalStr = Annotated[Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")]


class ProgressItem(BaseModel):
    key: str
    name_zh: str
    target: DecimalStr | None = Field(
        description="This region's own target for the year, a decimal string in `unit`; null: none set "
        "for this region (status no_target, never another region's)"
    )
    actual: DecimalStr | None = Field(
        description="From the owner service's GET /v1/stats `targets`; null if not tracked"
    )
    unit: str = Field(description="enterprises | yuan | percent | parks | standards | apps | institutions")
    ratio: DecimalStr | None = Field(description='actual ÷ target, in percent ("81.25")')
    expected_ratio: DecimalStr | None = Field(
        description="Share of the target period elapsed at as_of, in percent (on_track when ratio ≥ this)"
    )
    status: Status
    owner_service: str
    period_start: date | None = Field(description="The target's window (null without a target)")
    period_end: date | None
    definition: str | None = Field(description="How the owner service counts the actual")
    source_document: str = Field(description="Where the commitment is written (the programme text's section)")
    source: str | None = Field(
        None,
        description="A reported figure's source document (the department's document the actual is taken from)",
    )
    settled: bool = Field(
        description="false: the official definition or window is unsettled (docs/definitions.md)"
    )
    reason: str | None = Field(
        description="Why the row is not_tracked (no data source, not answered, withheld)"
    )
    reason_code: Literal["none", "withheld", "degraded", "not_reported", "no_data", "not_a_number"] | None = (
        None
    )
    note: str | None


class ProgressReport(BaseModel):
    programme: str
    year: int
    region: str
    targets_version: str
    as_of: datetime
    partial: bool = Field(description="True when an owner service could not be asked (see degraded)")
    degraded: list[str] = Field(
        description="Owner services that failed or did not answer within the aggregate deadline"
    )
    withheld: list[str] = Field(
        description="Owner services not asked: the credential's scopes lack their read scope"
    )
    items: list[ProgressItem]


class BulletinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    region: RegionCode
    programme: text(StringConstraints(min_length=1, max_length=64)) = "chuying-2022"


class BulletinOut(BaseModel):
    id: int
    number: str = Field(description="{year}-{region}-{sequence}, e.g. 2022-330000-03")
    programme: str
    year: int
    region: str
    as_of: datetime
    content_sha256: str = Field(
        description="SHA-256 of `bulletin` as canonical JSON (sorted keys, no spaces, UTF-8)"
    )
    published_by: str
    published_at: datetime
    bulletin: ProgressReport


class BulletinList(BaseModel):
    items: list[BulletinOut]
    next_cursor: str | None = Field(None, description="Always null: a year and region hold a handful")


class TrendPoint(BaseModel):
    year: int
    target: DecimalStr | None
    actual: DecimalStr | None
    unit: str
    status: Status
    reason: str | None


class Trend(BaseModel):
    key: str
    name_zh: str
    programme: str
    region: str
    points: list[TrendPoint]
