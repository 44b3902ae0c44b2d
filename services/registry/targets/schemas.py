"""A region's yearly targets (每年制定目标任务), as set and read over HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from services.common.types import text

Key = text(StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$"))
Unit = text(StringConstraints(min_length=1, max_length=32))
TargetValue = Annotated[
    Decimal,
    Field(ge=0, max_digits=20, decimal_places=2, examples=["60000"]),
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
]


class TargetItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key = Field(description="An indicator of the programme (GET the path: every key and its unit)")
    target: TargetValue
    unit: Unit = Field(description="The indicator's unit (enterprises, yuan, percent, …); no conversion")
    window_start: date | None = Field(
        None, description="Start of the period the figure is measured over; default: the indicator's"
    )
    window_end: date | None = None


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TargetItemIn] = Field(
        max_length=200, description="The region's whole target set for the year"
    )


class TargetItemOut(BaseModel):
    key: str
    name_zh: str
    target: str | None = Field(
        description="Decimal string in `unit` (yuan with 2 places); null: no target set for this region and year"
    )
    unit: str
    owner_service: str
    window_start: date | None
    window_end: date | None


class TargetsOut(BaseModel):
    programme: str
    year: int
    region: str
    items: list[TargetItemOut] = Field(description="Every indicator of the programme, in its order")
