"""The progress bulletin (定期通报进展): every programme target with its actual and status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

Status = Literal["met", "on_track", "behind", "not_tracked"]
DecimalStr = Annotated[Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")]


class ProgressItem(BaseModel):
    key: str
    name_zh: str
    target: DecimalStr = Field(description="Target value, a decimal string in `unit`")
    actual: DecimalStr | None = Field(
        description="From the owner service's GET /v1/stats `targets`; null if not tracked"
    )
    unit: str = Field(description="enterprises | yuan | percent | parks | standards")
    ratio: DecimalStr | None = Field(description='actual ÷ target, in percent ("81.25")')
    expected_ratio: DecimalStr | None = Field(
        description="Share of the target period elapsed at as_of, in percent (on_track when ratio ≥ this)"
    )
    status: Status
    owner_service: str
    period_start: date
    period_end: date
    definition: str | None = Field(description="How the owner service counts the actual")
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
